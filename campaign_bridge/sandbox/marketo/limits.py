"""Marketo's API limits, answered as Marketo answers them: HTTP 200, ``success: false`` and a code.

Sources: AdobeDocs/marketo-developer.en ``help/rest-api/error-codes.md`` and the REST API overview:
at most **100 calls per 20 seconds** per instance (``606`` "Max rate limit '100' exceeded with in '20'
secs"), at most **10 concurrent calls** (``615`` "Concurrent access limit reached"), and a daily quota
(default 50,000 calls, reset at midnight US Central time; ``607`` "Daily quota reached"). Calls answered
601, 602, 604, 605, 608 and 611 do not count against the quota; a refused call is not counted either.
Each limit is off when ``None``; windows run on an injected monotonic clock, so tests never sleep.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: Marketo's documented window and default numbers.
WINDOW_SECONDS = 20.0
CALLS_PER_WINDOW = 100
CONCURRENT_CALLS = 10
DAILY_QUOTA = 50_000
#: The day resets at 00:00 US Central (CST, UTC-6), per the REST overview.
CENTRAL_OFFSET_SECONDS = -6 * 3600


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    message: str


class Limits:
    """Counts one instance's calls; ``None`` turns a limit off."""

    def __init__(
        self,
        *,
        per_window: int | None = None,
        concurrent: int | None = None,
        daily: int | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.per_window, self.concurrent, self.daily = per_window, concurrent, daily
        self.monotonic: Callable[[], float] = monotonic or time.monotonic
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self._in_flight = 0
        self._day = -1
        self.used_today = 0
        #: Refusals sent, by code (benchmarks and tests read them).
        self.refused: dict[str, int] = {}
        #: Most calls seen in flight at once.
        self.peak_in_flight = 0

    def enter(self, wall_seconds: float) -> Refusal | None:
        """Count one call now, or refuse it; a call let in must ``leave`` when answered."""
        with self._lock:
            day = int((wall_seconds + CENTRAL_OFFSET_SECONDS) // 86_400)
            if day != self._day:
                self._day, self.used_today = day, 0
            refusal = self._refusal()
            if refusal is not None:
                self.refused[refusal.code] = self.refused.get(refusal.code, 0) + 1
                return refusal
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            self._window.append(self.monotonic())
            self.used_today += 1
            return None

    def _refusal(self) -> Refusal | None:
        if self.daily is not None and self.used_today >= self.daily:
            return Refusal("607", "Daily quota reached")
        if self.concurrent is not None and self._in_flight >= self.concurrent:
            return Refusal("615", "Concurrent access limit reached")
        if self.per_window is not None:
            now = self.monotonic()
            while self._window and self._window[0] <= now - WINDOW_SECONDS:
                self._window.popleft()
            if len(self._window) >= self.per_window:
                return Refusal(
                    "606", f"Max rate limit '{self.per_window}' exceeded with in '{int(WINDOW_SECONDS)}' secs"
                )
        return None

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def uncount(self) -> None:
        """The call was answered with a code that does not count against the quota (601, 602…)."""
        with self._lock:
            self.used_today -= 1
