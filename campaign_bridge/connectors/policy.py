"""The retry policy and the API budget: one value each, applied in one place per connector.

Connectors wrap every vendor call in ``CallPolicy.call`` (after translating vendor errors into the tree
of ``campaign_bridge.errors``): transient errors are retried with capped exponential backoff and jitter,
``RateLimitedError`` waits what the vendor said, everything else passes straight through. The budget
counts each attempt and stops the run with ``QuotaExhaustedError`` before it is overspent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from campaign_bridge.errors import QuotaExhaustedError, RateLimitedError, TransientError

T = TypeVar("T")

#: Attempts per call, the first included.
DEFAULT_ATTEMPTS = 5
#: Backoff grows from this many seconds…
DEFAULT_INITIAL_WAIT = 0.5
#: …to at most this many.
DEFAULT_MAX_WAIT = 30.0
#: A rate-limit answer asking us to wait longer than this is treated as quota exhaustion.
MAX_RATE_LIMIT_WAIT = 120.0


@dataclass
class ApiBudget:
    """At most ``limit`` calls in this run; ``spend`` raises ``QuotaExhaustedError`` past it."""

    limit: int
    connection: str
    spent: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def spend(self, endpoint: str = "") -> None:
        with self._lock:
            if self.spent >= self.limit:
                raise QuotaExhaustedError(
                    f"{self.connection}: the run's API budget of {self.limit} calls is spent; "
                    "the next run resumes where this one stopped (raise api_budget to allow more)"
                )
            self.spent += 1
            if endpoint:
                self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1

    def counts(self) -> tuple[int, dict[str, int]]:
        """Calls spent, and a copy of them by endpoint (safe while another thread spends)."""
        with self._lock:
            return self.spent, dict(self.by_endpoint)


@dataclass(frozen=True)
class CallPolicy:
    """How one connector retries; ``sleep`` is injectable so tests drive time instead of waiting."""

    attempts: int = DEFAULT_ATTEMPTS
    initial_wait: float = DEFAULT_INITIAL_WAIT
    max_wait: float = DEFAULT_MAX_WAIT
    sleep: Callable[[float], None] = time.sleep

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            if exc.retry_after > MAX_RATE_LIMIT_WAIT:
                raise QuotaExhaustedError(
                    f"the system asked us to wait {exc.retry_after:.0f}s; stopping, the next run resumes"
                ) from exc
            return exc.retry_after
        backoff = wait_exponential_jitter(multiplier=self.initial_wait, max=self.max_wait)
        return float(backoff(state))

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` with retries; re-raises the last error when attempts run out."""
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(fn)
