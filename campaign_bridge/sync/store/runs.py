"""What runs did: the ``runs`` record, held plans, the decision log and the reconciler's findings.

A run's row names its ``holder`` (the worker, ``host:pid:random``). A process killed or crashed mid-run
cannot close its row; ``fail_dead_runs``, called as a run starts, closes the rows of workers of this host
whose process is gone, by the same rule as a dead worker's lease is taken over (``sync/scope.py``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.base import StoreBase
from campaign_bridge.sync.store.rows import DecisionRow, FindingRow
from campaign_bridge.sync.store.states import RunStatus

#: The ``error`` of a run closed by ``fail_dead_runs``.
DEAD_WORKER = "the worker stopped (killed or crashed) before the run finished"


def dead_on_this_host(holder: str) -> bool:
    """Whether ``holder`` (``host:pid:random``) is a worker of this host whose process is gone. A holder of
    another host, or one not of that form, is never presumed dead; a pid reused since counts as alive."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal still exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore(StoreBase):
    # -- runs and plans --------------------------------------------------------------------------
    def start_run(self, client: str, rule: str, mode: str, now: datetime, *, holder: str | None = None) -> int:
        """Record a run of ``rule`` as ``running``; its id. ``holder`` names the worker running it (so that
        ``fail_dead_runs`` can close the row should the worker die)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(t.runs).values(
                    client=client,
                    rule=rule,
                    mode=mode,
                    status=RunStatus.RUNNING,
                    started_at=now,
                    counts={},
                    api_calls={},
                    timings={},
                    holder=holder,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def fail_dead_runs(self, now: datetime, *, is_dead: Callable[[str], bool] = dead_on_this_host) -> list[int]:
        """Close as ``failed`` (error ``DEAD_WORKER``, finished ``now``) every ``running`` run whose holder
        ``is_dead`` (default: a worker of this host whose process is gone); the ids closed, oldest first.

        Runs of other hosts and runs with no holder are left alone. Safe to call from several workers at
        once: a row is closed only while it is still ``running``."""
        c = t.runs.c
        with self.engine.connect() as conn:
            found = conn.execute(
                select(c.id, c.holder).where(c.status == RunStatus.RUNNING, c.holder.is_not(None)).order_by(c.id)
            ).all()
        dead = [run_id for run_id, holder in found if is_dead(holder)]
        closed: list[int] = []
        if dead:
            with self.engine.begin() as conn:
                for run_id in dead:
                    done = conn.execute(
                        update(t.runs)
                        .where(c.id == run_id, c.status == RunStatus.RUNNING)
                        .values(status=RunStatus.FAILED, finished_at=now, error=DEAD_WORKER)
                    )
                    if done.rowcount:
                        closed.append(run_id)
        return closed

    def finish_run(self, run_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))

    def runs(self, limit: int = 20, rule: str | None = None, mode: str | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` runs (of one rule, of one mode: ``sync``, ``plan``, ``reconcile``), newest first."""
        q = select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)
        if rule:
            q = q.where(t.runs.c.rule == rule)
        if mode:
            q = q.where(t.runs.c.mode == mode)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def save_plan(self, run_id: int, rule: str, held: bool, summary: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(t.plans).values(run_id=run_id, rule=rule, held=held, summary=summary))

    # -- the decision log --------------------------------------------------------------------------
    def log(self, rows: Sequence[DecisionRow]) -> None:
        """Append entries to the decision log."""
        if not rows:
            return
        with self.engine.begin() as conn:
            self._write_rows(conn, t.decisions, rows)

    def decisions(
        self,
        *,
        rule: str | None = None,
        kind: str | None = None,
        email: str | None = None,
        conflicts_only: bool = False,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        c = t.decisions.c
        q = select(t.decisions).order_by(c.id.desc()).limit(limit)
        if rule:
            q = q.where(c.rule == rule)
        if kind:
            q = q.where(c.kind == kind)
        if email:
            q = q.where(c.email == email)
        if conflicts_only:
            q = q.where(c.is_conflict.is_(True))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def decision_persons(self, email: str) -> set[str]:
        """The person keys the decision log names for ``email``, however old the decisions (a person stored
        without an address is tied to it only by the decisions made about it)."""
        c = t.decisions.c
        q = select(c.person_key).where(c.email == email).distinct()
        with self.engine.connect() as conn:
            return {key for (key,) in conn.execute(q) if key}

    # -- reconcile findings ------------------------------------------------------------------------
    def save_findings(self, run_id: int, rule: str, rows: Sequence[FindingRow], at: datetime) -> None:
        """Record what the reconcile ``run_id`` of ``rule`` found (and what its repair did)."""
        if not rows:
            return
        with self.engine.begin() as conn:
            self._write_rows(conn, t.reconcile_findings, rows, shared={"run_id": run_id, "rule": rule, "at": at})

    def reported_records(self, rule: str, kind: str) -> set[str]:
        """The records earlier reconciles of ``rule`` reported in a finding of ``kind``."""
        c = t.reconcile_findings.c
        q = select(c.record).where(c.rule == rule, c.kind == kind).distinct()
        with self.engine.connect() as conn:
            return {r for (r,) in conn.execute(q) if r is not None}

    def findings(self, *, rule: str | None = None, run_id: int | None = None) -> list[dict[str, Any]]:
        """Stored findings, newest first (one run, or one rule's)."""
        c = t.reconcile_findings.c
        q = select(t.reconcile_findings).order_by(c.id.desc())
        if rule is not None:
            q = q.where(c.rule == rule)
        if run_id is not None:
            q = q.where(c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]
