"""Metering at the transport seam: every HTTP attempt charged to the run's budget, every answer read.

A connector's client sends each attempt (logins, retries and polls included) through one ``Meter``:
``before`` asks the vendor's own guard (an org reserve, say) and charges the run's ``ApiBudget``, which
raises ``QuotaExhaustedError`` before the budget is overspent; ``after`` shows the answer's headers to the
vendor's observers (its daily counters, its rate-limit headers). ``session.MeteredAdapter`` calls it for
clients built on ``requests``; a client on another HTTP stack calls it around its own send.

``VendorUsage`` keeps the vendor's own daily counters as last reported, for ``Connector.usage`` and for a
guard that refuses the last share of an allocation other integrations depend on. Everything here is
safe to share between threads: the budget and the counters take their own locks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from campaign_bridge.connectors.policy import ApiBudget

#: Raises (``QuotaExhaustedError``) when the call to ``endpoint`` must not go out.
Guard = Callable[[str], None]
#: Reads what it needs from an answer's headers.
Observer = Callable[[Mapping[str, str]], None]


class Meter:
    """One connection's bookkeeping per HTTP attempt: ``guard``, then ``budget``, then ``observers``."""

    def __init__(self, budget: ApiBudget, *, guard: Guard | None = None, observers: Sequence[Observer] = ()) -> None:
        self.budget = budget
        self.guard = guard
        self.observers = tuple(observers)

    @property
    def connection(self) -> str:
        return self.budget.connection

    def before(self, endpoint: str) -> None:
        """Charge one attempt at ``endpoint``; raises ``QuotaExhaustedError`` when it must not be made."""
        if self.guard is not None:
            self.guard(endpoint)
        self.budget.spend(endpoint)

    def after(self, headers: Mapping[str, str]) -> None:
        """Show an answer's headers to every observer."""
        for observe in self.observers:
            observe(headers)

    def counts(self) -> tuple[int, dict[str, int]]:
        """Attempts charged, and a copy of them by endpoint."""
        return self.budget.counts()


class VendorUsage:
    """The vendor's own counters of an allocation (calls used of a daily limit), as last reported.

    A reading is ``fresh`` for ``STALE_SECONDS``: vendors count usage over a rolling or resetting day, so a
    connector that lives on (in ``serve``) must not act for ever on a morning's reading.
    """

    STALE_SECONDS = 300.0

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.used: int | None = None
        self.limit: int | None = None
        self.monotonic = monotonic
        self._seen_at = float("-inf")
        self._lock = threading.Lock()

    def record(self, used: int, limit: int) -> None:
        """The vendor reported ``used`` of ``limit``."""
        with self._lock:
            self.used, self.limit, self._seen_at = used, limit, self.monotonic()

    def reading(self) -> tuple[int | None, int | None, bool]:
        """``(used, limit, fresh)`` as one consistent reading."""
        with self._lock:
            return self.used, self.limit, self.monotonic() - self._seen_at < self.STALE_SECONDS
