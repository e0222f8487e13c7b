"""Client-side pacing: stay under HubSpot's rolling limits instead of bouncing off them.

HubSpot counts requests in rolling windows (per app every 10 s; search 5 per second) and answers 429
past them. A sustained sync that merely retries 429s spends a tenth of its calls on refusals and shares
the portal's allowance badly with other integrations, so every request first takes a slot here.
Clock and sleep are injected: tests drive time by hand and never wait.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping

Monotonic = Callable[[], float]
Sleep = Callable[[float], None]

#: Pace at this share of the vendor's limit, leaving room for clock skew between us and HubSpot's counter;
#: a long paced run then takes about 1/HEADROOM times what the limit alone imposes (benchmarks: ≤ 1.1).
HEADROOM = 0.95
#: When HubSpot reports this few requests left in its window, wait for the window to roll on.
REMAINING_RESERVE = 1


class SlidingWindowPacer:
    """At most ``limit`` requests in any ``window`` seconds, counted on our side.

    ``acquire`` blocks (through ``sleep``) until a slot is free, then takes it. ``hold`` pauses every
    request until a given time, used when the vendor's own counter says its window is spent. Safe to share
    between threads; a request that asks to go ``first`` (a write the run waits for) takes the next free
    slot before those that did not (lookups and reads fetched ahead of need).
    """

    def __init__(self, limit: int, window: float, *, clock: Monotonic, sleep: Sleep) -> None:
        if limit < 1:
            raise ValueError("a pacer needs a limit of at least one request")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._held_until = float("-inf")
        self._lock = threading.Condition()  # guards the stamps, the hold and the count of ``first`` waiters
        self._firsts = 0
        #: Seconds spent waiting for a slot, summed over threads (reported in usage, asserted by tests).
        self.waited = 0.0

    def acquire(self, *, first: bool = False) -> None:
        with self._lock:
            self._firsts += first
        try:
            while True:
                with self._lock:
                    if not first:
                        self._lock.wait_for(lambda: not self._firsts)
                    now = self._clock()
                    while self._stamps and self._stamps[0] + self.window <= now:
                        self._stamps.popleft()
                    wait = self._held_until - now
                    if len(self._stamps) >= self.limit:
                        wait = max(wait, self._stamps[0] + self.window - now)
                    if wait <= 0:
                        self._stamps.append(now)
                        return
                    self.waited += wait
                self._sleep(wait)  # outside the lock: ``hold`` and the other threads go on meanwhile
        finally:
            if first:
                with self._lock:
                    self._firsts -= 1
                    self._lock.notify_all()

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)

    def until_window_rolls(self) -> float:
        """Seconds until our oldest counted request leaves the window (the whole window if none)."""
        with self._lock:
            if not self._stamps:
                return self.window
            return max(0.0, self._stamps[0] + self.window - self._clock())


def paced_limit(vendor_limit: int) -> int:
    """How many requests per window we allow ourselves under a vendor limit."""
    return max(1, int(vendor_limit * HEADROOM))


def observe_rate_headers(pacer: SlidingWindowPacer, headers: Mapping[str, str]) -> None:
    """Pause when HubSpot's ``X-HubSpot-RateLimit-Remaining`` says its window is (nearly) spent.

    Our own count cannot see other integrations on the same portal; HubSpot's can.
    """
    remaining = _int(headers.get("X-HubSpot-RateLimit-Remaining"))
    if remaining is None or remaining > REMAINING_RESERVE:
        return
    interval_ms = _int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds"))
    window = interval_ms / 1000 if interval_ms else pacer.window
    pacer.hold(min(window, pacer.until_window_rolls()))


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None
