"""Alert state: which alerts of a client are firing, and what each of its targets was last told.

One row per (client, rule, kind, subject). ``campaign_bridge/alerts/`` decides what to send from it and
writes it back after each delivery; the row never holds a URL or a secret (a target is a digest of its
URL, and messages are redacted before they get here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.base import StoreBase, aware

#: The columns that name an alert (the primary key).
ALERT_KEY = ("client", "rule", "kind", "subject")


@dataclass(frozen=True, slots=True)
class AlertState:
    """One alert as last recorded. ``fingerprint`` None: not firing. ``delivered``: target digest → the
    fingerprint that target was last told of (``""`` once it was told the alert resolved)."""

    client: str
    rule: str
    kind: str
    subject: str = ""
    fingerprint: str | None = None
    summary: str | None = None
    delivered: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    last_error: str | None = None
    updated_at: datetime | None = None


class AlertStore(StoreBase):
    def alert_states(self, client: str, rule: str | None = None) -> dict[tuple[str, str, str], AlertState]:
        """The client's recorded alerts (one rule's, with ``rule``), by (rule, kind, subject)."""
        c = t.alert_state.c
        q = select(t.alert_state).where(c.client == client)
        if rule is not None:
            q = q.where(c.rule == rule)
        with self.engine.connect() as conn:
            out: dict[tuple[str, str, str], AlertState] = {}
            for r in conn.execute(q):
                out[(r.rule, r.kind, r.subject)] = AlertState(
                    r.client,
                    r.rule,
                    r.kind,
                    r.subject,
                    r.fingerprint,
                    r.summary,
                    dict(r.delivered or {}),
                    r.attempts,
                    r.last_error,
                    aware(r.updated_at),
                )
            return out

    def save_alert_state(self, state: AlertState, now: datetime) -> None:
        """Insert or replace the row of ``state``'s alert."""
        values: dict[str, Any] = {
            "client": state.client,
            "rule": state.rule,
            "kind": state.kind,
            "subject": state.subject,
            "fingerprint": state.fingerprint,
            "summary": state.summary,
            "delivered": state.delivered,
            "attempts": state.attempts,
            "last_error": state.last_error,
            "updated_at": now,
        }
        changed = {k: v for k, v in values.items() if k not in ALERT_KEY}
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                pg = postgresql.insert(t.alert_state).values(values)
                conn.execute(pg.on_conflict_do_update(index_elements=list(ALERT_KEY), set_=changed))
            else:
                lite = sqlite.insert(t.alert_state).values(values)
                conn.execute(lite.on_conflict_do_update(index_elements=list(ALERT_KEY), set_=changed))
