"""The membership ledger: what each rule wants in its target, and what it has written there."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, func, select, update

from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.base import StoreBase, aware, chunks
from campaign_bridge.sync.store.rows import LedgerRow
from campaign_bridge.sync.store.states import REQUEUED, LedgerState

#: ``ledger``'s key: a ledger write inserts or updates by it.
LEDGER_KEY = ("rule", "person_key")


def _row(r: Any) -> LedgerRow:
    return LedgerRow(
        r.rule,
        r.person_key,
        r.connection,
        r.container_id,
        r.target_record_id,
        r.target_kind,
        r.status,
        bool(r.owned),
        LedgerState(r.state),
        r.attempts,
        r.last_error,
        aware(r.written_at),
    )


class LedgerStore(StoreBase):
    def ledger(self, rule: str, person_keys: Iterable[str] | None = None) -> dict[str, LedgerRow]:
        c = t.ledger.c
        out: dict[str, LedgerRow] = {}
        with self.engine.connect() as conn:
            if person_keys is None:
                for r in conn.execute(select(t.ledger).where(c.rule == rule)):
                    out[r.person_key] = _row(r)
                return out
            for chunk in chunks(list(set(person_keys))):
                for r in conn.execute(select(t.ledger).where(c.rule == rule, c.person_key.in_(chunk))):
                    out[r.person_key] = _row(r)
        return out

    def ledger_keys(self, rule: str) -> set[str]:
        """Every person in the rule's ledger (keys only: a full read diffs the ledger a chunk at a time)."""
        c = t.ledger.c
        with self.engine.connect() as conn:
            return {k for (k,) in conn.execute(select(c.person_key).where(c.rule == rule))}

    def ledger_keys_in_state(self, rule: str, states: Sequence[str]) -> set[str]:
        """Persons of the rule's ledger in one of ``states`` (``LedgerState`` members, or their values)."""
        c = t.ledger.c
        with self.engine.connect() as conn:
            return {k for (k,) in conn.execute(select(c.person_key).where(c.rule == rule, c.state.in_(states)))}

    def others_on_target(
        self, rule: str, connection: str, person_keys: Iterable[str], container_id: str | None = None
    ) -> list[LedgerRow]:
        """Other rules' present rows for these persons on ``connection`` (one container, or all)."""
        c = t.ledger.c
        out: list[LedgerRow] = []
        with self.engine.connect() as conn:
            for chunk in chunks(list(set(person_keys))):
                cond = [
                    c.rule != rule,
                    c.connection == connection,
                    c.person_key.in_(chunk),
                    c.state == LedgerState.PRESENT,
                ]
                if container_id is not None:
                    cond.append(c.container_id == container_id)
                out.extend(_row(r) for r in conn.execute(select(t.ledger).where(and_(*cond))))
        return out

    def write_ledger(self, rows: Sequence[LedgerRow], deletes: Sequence[tuple[str, str]] = ()) -> None:
        """Upsert ledger rows and delete ``(rule, person_key)`` rows, in one transaction."""
        with self.engine.begin() as conn:
            for rule, key in deletes:
                conn.execute(delete(t.ledger).where(t.ledger.c.rule == rule, t.ledger.c.person_key == key))
            self._write_rows(conn, t.ledger, rows, LEDGER_KEY)

    def requeue(self, rule: str) -> int:
        """Give dead-lettered and rejected items of ``rule`` a fresh set of attempts."""
        c = t.ledger.c
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(t.ledger)
                    .where(c.rule == rule, c.state.in_(REQUEUED))
                    .values(state=LedgerState.FAILED, attempts=0)
                ).rowcount
            )

    def ledger_counts(self, rule: str) -> dict[str, int]:
        """Rows of the rule's ledger per state, and ``owned``: the present rows the rule added."""
        c = t.ledger.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.state, c.owned, func.count()).where(c.rule == rule).group_by(c.state, c.owned))
            out: dict[str, int] = {}
            for state, owned, n in rows:
                out[state] = out.get(state, 0) + n
                if owned and state == LedgerState.PRESENT:
                    out["owned"] = out.get("owned", 0) + n
            return out
