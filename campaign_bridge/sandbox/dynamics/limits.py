"""Dataverse service protection limits, per user (here: per app registration), when switched on.

[D] Learn "Service protection API limits" (power-apps/developer/data-platform/api-limits), api-facts.md §3:
over a 5-minute sliding window, 6,000 requests, 1,200,000 ms of combined execution time, and 52 concurrent
requests; the Web API answers 429 with ``Retry-After`` (seconds) and an error code per limit. A ``$batch``
counts once against the number of requests and its whole execution time against the time limit [T: third-party
digests of the same page; unconfirmed here]. The debug headers ``x-ms-ratelimit-burst-remaining-xrm-requests``
and ``x-ms-ratelimit-time-remaining-xrm-requests`` go out on every answer.

The numbers are constructor arguments so a benchmark can scale the window down (``requests``/``window``) and
still measure the same thing: the time the limit alone imposes.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

REQUESTS = 6000
WINDOW_SECONDS = 300.0
EXECUTION_MS = 1_200_000
CONCURRENT = 52

NUMBER_CODE = ("0x80072322", "Number of requests exceeded the limit of {limit} over time window of {window} seconds.")
TIME_CODE = (
    "0x80072321",
    "Combined execution time of incoming requests exceeded limit of {limit} milliseconds over time window of "
    "{window} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again "
    "later.",
)
CONCURRENT_CODE = ("0x80072326", "Number of concurrent requests exceeded the limit of {limit}.")


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    message: str
    retry_after: int


class ServiceProtection:
    """Counts each user's requests and execution time in the window, and the requests in flight."""

    def __init__(
        self,
        *,
        enabled: bool = False,
        requests: int = REQUESTS,
        window: float = WINDOW_SECONDS,
        execution_ms: int = EXECUTION_MS,
        concurrent: int = CONCURRENT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.requests, self.window, self.execution_ms, self.concurrent = requests, window, execution_ms, concurrent
        self.monotonic = monotonic
        self._stamps: dict[str, deque[float]] = {}
        self._spent: dict[str, deque[tuple[float, float]]] = {}
        self._flying: dict[str, int] = {}
        self._lock = threading.Lock()
        self.refused = 0

    def _roll(self, user: str, now: float) -> tuple[deque[float], deque[tuple[float, float]]]:
        stamps = self._stamps.setdefault(user, deque())
        spent = self._spent.setdefault(user, deque())
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        while spent and spent[0][0] <= now - self.window:
            spent.popleft()
        return stamps, spent

    def admit(self, user: str) -> Refusal | None:
        """Count one request of ``user`` starting now, or the refusal when a limit is reached."""
        if not self.enabled:
            return None
        with self._lock:
            now = self.monotonic()
            stamps, spent = self._roll(user, now)
            if self._flying.get(user, 0) >= self.concurrent:
                self.refused += 1
                return Refusal(CONCURRENT_CODE[0], CONCURRENT_CODE[1].format(limit=self.concurrent), 1)
            if len(stamps) >= self.requests:
                self.refused += 1
                wait = stamps[0] + self.window - now
                return Refusal(
                    NUMBER_CODE[0],
                    NUMBER_CODE[1].format(limit=self.requests, window=int(self.window)),
                    max(1, math.ceil(wait)),
                )
            if sum(ms for _, ms in spent) >= self.execution_ms:
                self.refused += 1
                wait = spent[0][0] + self.window - now
                message = TIME_CODE[1].format(limit=f"{self.execution_ms:,}", window=int(self.window))
                return Refusal(TIME_CODE[0], message, max(1, math.ceil(wait)))
            stamps.append(now)
            self._flying[user] = self._flying.get(user, 0) + 1
            return None

    def done(self, user: str, elapsed_ms: float) -> dict[str, str]:
        """The request admitted for ``user`` finished after ``elapsed_ms``: the debug headers to send."""
        if not self.enabled:
            return {}
        with self._lock:
            now = self.monotonic()
            self._flying[user] = max(0, self._flying.get(user, 0) - 1)
            stamps, spent = self._roll(user, now)
            spent.append((now, elapsed_ms))
            return {
                "x-ms-ratelimit-burst-remaining-xrm-requests": str(max(0, self.requests - len(stamps))),
                "x-ms-ratelimit-time-remaining-xrm-requests": f"{max(0.0, self.execution_ms - sum(ms for _, ms in spent)):.2f}",
            }
