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

#: When HubSpot reports this few requests left in its window, wait for the window to roll on.
REMAINING_RESERVE = 1


class SlidingWindowPacer:
    """At most ``limit`` requests in any ``window`` seconds, counted on our side.

    ``acquire`` blocks (through ``sleep``) until a slot is free, then takes it; ``release`` gives it back
    once the request's answer is in. A request counts from ``acquire`` (in flight) and then from the time
    its answer came: by then HubSpot has counted it, so our window never starts before HubSpot's, and the
    vendor's whole limit can be used with no margin for the time a request takes to reach it. ``hold``
    pauses every request until a given time, used when the vendor's own counter says its window is spent.
    Safe to share between threads; a request that asks to go ``first`` (a write the run waits for) takes
    the next free slot before those that did not (lookups and reads fetched ahead of need).
    """

    def __init__(self, limit: int, window: float, *, clock: Monotonic, sleep: Sleep) -> None:
        if limit < 1:
            raise ValueError("a pacer needs a limit of at least one request")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()  # when the answers of the window's requests came, oldest first
        self._flying = 0  # requests sent whose answer is not in yet
        self._held_until = float("-inf")
        # guards the stamps, the requests in flight, the hold and the count of ``first`` waiters
        self._lock = threading.Condition()
        self._firsts = 0
        #: Seconds spent waiting for a slot, summed over threads (reported in usage, asserted by tests).
        self.waited = 0.0

    def acquire(self, *, first: bool = False) -> None:
        """Take a slot for one request, waiting until one is free; ``release`` it when the answer is in."""
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
                    if len(self._stamps) + self._flying >= self.limit:
                        if not self._stamps:  # every slot is in flight: the first answer starts a window
                            self._lock.wait(self.window)
                            continue
                        wait = max(wait, self._stamps[0] + self.window - now)
                    if wait <= 0:
                        self._flying += 1
                        return
                    self.waited += wait
                self._sleep(wait)  # outside the lock: ``hold`` and the other threads go on meanwhile
        finally:
            if first:
                with self._lock:
                    self._firsts -= 1
                    self._lock.notify_all()

    def release(self) -> None:
        """The answer to a request ``acquire`` let go is in (or it failed): it counts from now."""
        with self._lock:
            self._flying -= 1
            self._stamps.append(self._clock())
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
