"""What runs did: the ``runs`` record, held plans, the decision log and the reconciler's findings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.base import StoreBase
from campaign_bridge.sync.store.rows import DecisionRow, FindingRow
from campaign_bridge.sync.store.states import RunStatus


class RunStore(StoreBase):
    # -- runs and plans --------------------------------------------------------------------------
    def start_run(self, client: str, rule: str, mode: str, now: datetime) -> int:
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
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

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
