"""The reconciler's rows in the state store: ``reconcile_findings`` (one per finding, with what repair did)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from campaign_bridge.reconciler.report import Finding, FindingKind
from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.store import Store


def save(store: Store, run_id: int, rule: str, findings: Sequence[Finding], at: datetime) -> None:
    rows = [
        {
            "run_id": run_id,
            "rule": rule,
            "kind": f.kind.value,
            "person_key": f.person_key,
            "email": f.email,
            "record": f.record,
            "detail": f.detail,
            "action": f.action.value if f.action else None,
            "at": at,
        }
        for f in findings
    ]
    if not rows:
        return
    with store.engine.begin() as conn:
        for i in range(0, len(rows), 500):
            conn.execute(insert(t.reconcile_findings), rows[i : i + 500])


def reported_unowned(store: Store, rule: str) -> set[str]:
    """Target records earlier reconciles of ``rule`` already reported as unowned."""
    c = t.reconcile_findings.c
    q = select(c.record).where(c.rule == rule, c.kind == FindingKind.UNOWNED.value).distinct()
    with store.engine.connect() as conn:
        return {r for (r,) in conn.execute(q) if r is not None}


def findings(store: Store, *, rule: str | None = None, run_id: int | None = None) -> list[dict[str, Any]]:
    """Stored findings, newest first (one run, or one rule's)."""
    c = t.reconcile_findings.c
    q = select(t.reconcile_findings).order_by(c.id.desc())
    if rule is not None:
        q = q.where(c.rule == rule)
    if run_id is not None:
        q = q.where(c.run_id == run_id)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
