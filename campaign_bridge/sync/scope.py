"""The run scope: what every run of a rule does around its own work, sync and reconcile alike.

take the rule's lease (or a dead worker's) → open a ``runs`` row → the run's own work → count its API
calls and time → close the row with the outcome → release the lease.

The error tree decides the outcome: a ``QuotaExhaustedError`` ends the run ``stopped`` (it resumes next
time); any other ``CampaignBridgeError`` ends it ``failed``, and a ``FatalError`` is raised on after the run
is recorded, because a person must act. One implementation serves ``sync``, ``plan`` and ``reconcile``,
so a rule is protected the same way whichever of them runs it.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from campaign_bridge.connectors.base import Connector
from campaign_bridge.errors import CampaignBridgeError, FatalError, LeaseHeldError, QuotaExhaustedError
from campaign_bridge.sync.store.runs import dead_on_this_host
from campaign_bridge.sync.store.store import Store

Clock = Callable[[], datetime]
#: Told the rule's name and the run's id as soon as the run is recorded (the CLI prints it, so a person
#: can follow a long run with ``runs``).
RunStarted = Callable[[str, int], None]

#: A lease outlives a crashed worker by at most this long.
LEASE_SECONDS = 15 * 60


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_holder() -> str:
    """A lease holder name, ``host:pid:random``: the host and pid let a run take over a dead worker's lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Report(Protocol):
    """What the scope fills in and records of a run's report (``RunReport``, ``ReconcileReport``)."""

    rule: str
    run_id: int | None
    status: str
    message: str
    counts: dict[str, int]
    api_calls: dict[str, int]
    timings: dict[str, float]

    @property
    def mode(self) -> str: ...

    @property
    def full_read(self) -> bool: ...


class RunScope:
    """Runs a rule's work inside its lease and its ``runs`` row. Parts are passed in, as for the engine."""

    def __init__(
        self,
        store: Store,
        connectors: Mapping[str, Connector],
        *,
        client: str,
        clock: Clock = utcnow,
        holder: str | None = None,
        on_run_started: RunStarted | None = None,
    ) -> None:
        self.store, self.connectors, self.client, self.clock = store, connectors, client, clock
        self.holder = holder or new_holder()
        self.on_run_started = on_run_started

    def run(
        self,
        report: Report,
        work: Callable[[datetime], None],
        *,
        record: bool = True,
        finishing: Callable[[], None] | None = None,
    ) -> None:
        """Run ``work(now)`` for ``report.rule``. With ``record`` (not a dry run) the rule's lease is taken
        first, or ``LeaseHeldError`` is raised and nothing else happens, and the run gets a ``runs`` row.
        ``finishing`` is called before the row is closed (the engine logs the run's last decisions).

        Raises ``LeaseHeldError`` and, once the run is recorded as failed, ``FatalError``."""
        now = self.clock()
        if record:
            self._lease(report.rule, now)
            self.store.fail_dead_runs(now)  # rows a killed worker of this host left "running"
            report.run_id = self.store.start_run(self.client, report.rule, report.mode, now, holder=self.holder)
            if self.on_run_started is not None:
                self.on_run_started(report.rule, report.run_id)
        before = {name: c.usage().calls for name, c in self.connectors.items()}
        started = time.perf_counter()
        try:
            work(now)
        except QuotaExhaustedError as exc:
            report.status, report.message = "stopped", str(exc)
        except CampaignBridgeError as exc:
            report.status, report.message = "failed", str(exc)
            if isinstance(exc, FatalError):
                self._finish(report, before, started, finishing)
                raise
        except BaseException as exc:
            # A bug, or an interrupt: the run row must not stay "running". Only the exception's type is
            # recorded: its text may quote a value from the client file or the environment.
            report.status = "failed"
            report.message = f"the run stopped on an unexpected {type(exc).__name__}; see the worker's log"
            self._finish(report, before, started, finishing)
            raise
        finally:
            if record:
                self.store.release_lease(report.rule, self.holder)
        self._finish(report, before, started, finishing)

    def renew(self, rule: str) -> None:
        """Push the lease's expiry ``LEASE_SECONDS`` ahead: a long run keeps its rule while it works."""
        self.store.try_lease(rule, self.holder, self.clock() + timedelta(seconds=LEASE_SECONDS), self.clock())

    def _lease(self, rule: str, now: datetime) -> None:
        expires = now + timedelta(seconds=LEASE_SECONDS)
        if not self.store.try_lease(rule, self.holder, expires, now) and not self._take_from_dead(rule, expires):
            raise LeaseHeldError(f"rule {rule!r} is running in another worker; this run did nothing")

    def _take_from_dead(self, rule: str, expires: datetime) -> bool:
        """Take the lease of a worker of this host whose process is gone (killed, crashed): the next run
        need not wait ``LEASE_SECONDS`` for it. A worker elsewhere is never presumed dead."""
        holder = self.store.lease_holder(rule)
        if holder is None or holder == self.holder or not dead_on_this_host(holder):
            return False
        return self.store.take_over_lease(rule, holder, self.holder, expires)

    def _finish(
        self, report: Report, before: dict[str, int], started: float, finishing: Callable[[], None] | None
    ) -> None:
        calls = {n: c.usage().calls - before.get(n, 0) for n, c in self.connectors.items()}
        report.api_calls = {n: v for n, v in calls.items() if v}
        report.timings["total"] = time.perf_counter() - started
        if finishing is not None:
            finishing()
        if report.run_id is None:
            return
        self.store.finish_run(
            report.run_id,
            status=report.status,
            finished_at=self.clock(),
            read_full=report.full_read,
            counts=report.counts,
            api_calls=report.api_calls,
            timings={k: round(v, 3) for k, v in report.timings.items()},
            error=report.message or None,
        )
