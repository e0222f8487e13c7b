"""Client-side pacing: stay under a vendor's rate limits instead of bouncing off them.

A sustained sync that merely retries 429s spends a share of its calls on refusals and shares the
account's allowance badly with other integrations, so every request first takes a slot of a pacer:

``SlidingWindowPacer``  at most ``limit`` requests in any ``window`` seconds (HubSpot's rolling 10 s)
``FixedWindowPacer``    at most ``limit`` requests per window of the vendor's clock, which resets at
                        known instants; ``align`` it to the reset the vendor reports. Without one, use
                        the sliding pacer: it is never wrong, only slower at window edges.
``max_in_flight``       either pacer also caps the requests in flight at once (a concurrency limit).

Both count a request from ``acquire`` (in flight) and then from the time its answer came: by then the
vendor has counted it, so our window never starts before the vendor's and its whole limit can be used
with no margin for the time a request takes to reach it. A request that asks to go ``first`` (a write
the run waits for) takes the next free slot before those that did not (lookups and reads fetched ahead
of need). ``hold`` pauses every request until a given time; ``observe_remaining`` holds when the vendor's
own counter (a ``…-Remaining`` header) says its window is spent, which our count cannot see when other
integrations share the account. Clock and sleep are injected: tests drive time by hand and never wait.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Mapping

Monotonic = Callable[[], float]
Sleep = Callable[[float], None]

#: When the vendor reports this few requests left in its window, wait for the window to roll on.
REMAINING_RESERVE = 1


class Pacer:
    """The waiting both pacers share; a subclass says when a counted request leaves its window.

    Safe to share between threads. ``waited`` sums the seconds spent waiting for a slot, over threads
    (reported in usage, asserted by tests).
    """

    def __init__(
        self, limit: int, window: float, *, clock: Monotonic, sleep: Sleep, max_in_flight: int | None = None
    ) -> None:
        if limit < 1:
            raise ValueError("a pacer needs a limit of at least one request")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("a pacer needs max_in_flight of at least one request")
        self.limit = limit
        self.window = window
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()  # when the answers of the window's requests came, oldest first
        self._flying = 0  # requests sent whose answer is not in yet
        self._held_until = float("-inf")
        # guards the stamps, the requests in flight, the hold and the count of ``first`` waiters
        self._lock = threading.Condition()
        self._firsts = 0
        self.waited = 0.0

    def _leaves_window(self, stamp: float) -> float:
        """When a request whose answer came at ``stamp`` stops counting."""
        raise NotImplementedError

    def acquire(self, *, first: bool = False) -> None:
        """Take a slot for one request, waiting until one is free; ``release`` it when the answer is in."""
        with self._lock:
            self._firsts += first
        try:
            while True:
                with self._lock:
                    if not first:
                        self._lock.wait_for(lambda: not self._firsts)
                    if self.max_in_flight is not None and self._flying >= self.max_in_flight:
                        self._lock.wait()  # a release notifies; then look again from the top
                        continue
                    now = self._clock()
                    while self._stamps and self._leaves_window(self._stamps[0]) <= now:
                        self._stamps.popleft()
                    wait = self._held_until - now
                    if len(self._stamps) + self._flying >= self.limit:
                        if not self._stamps:  # every slot is in flight: the first answer starts a window
                            self._lock.wait(self.window)
                            continue
                        wait = max(wait, self._leaves_window(self._stamps[0]) - now)
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
        """Let no request go for ``seconds`` from now (a longer hold already set stands)."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)

    def until_window_rolls(self) -> float:
        """Seconds until our oldest counted request leaves the window (the whole window if none)."""
        with self._lock:
            if not self._stamps:
                return self.window
            return max(0.0, self._leaves_window(self._stamps[0]) - self._clock())


class SlidingWindowPacer(Pacer):
    """At most ``limit`` requests in any ``window`` seconds, counted on our side."""

    def _leaves_window(self, stamp: float) -> float:
        return stamp + self.window


class FixedWindowPacer(Pacer):
    """At most ``limit`` requests per fixed window: windows start at ``origin`` + k × ``window``.

    A request counts in the window its answer came in (the vendor counted it then or earlier, and while
    in flight it held a slot in every window it spanned), so the count is never below the vendor's. The
    windows must be the vendor's: ``align`` to the reset time it reports before trusting this pacer.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Monotonic,
        sleep: Sleep,
        max_in_flight: int | None = None,
        origin: float = 0.0,
    ) -> None:
        super().__init__(limit, window, clock=clock, sleep=sleep, max_in_flight=max_in_flight)
        self._origin = origin

    def _leaves_window(self, stamp: float) -> float:
        return self._origin + (math.floor((stamp - self._origin) / self.window) + 1) * self.window

    def align(self, resets_in: float) -> None:
        """The vendor says its current window resets ``resets_in`` seconds from now."""
        with self._lock:
            self._origin = self._clock() + resets_in - self.window


def observe_remaining(
    pacer: Pacer, remaining: int | None, window: float | None = None, *, reserve: int = REMAINING_RESERVE
) -> None:
    """Hold ``pacer`` when the vendor says only ``reserve`` requests (or fewer) are left in its window.

    The hold lasts until our oldest counted request leaves the window, at most ``window`` (the vendor's
    interval when it reports one, else the pacer's): by then the vendor's window has rolled on too.
    """
    if remaining is None or remaining > reserve:
        return
    pacer.hold(min(window or pacer.window, pacer.until_window_rolls()))


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """The integer value of header ``name``, or None when absent or not an integer."""
    raw = headers.get(name)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None
