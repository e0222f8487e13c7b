"""The identity crosswalk: persons, and which record in which connection is which person."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.base import StoreBase, aware, chunks
from campaign_bridge.sync.store.rows import RefRow
from campaign_bridge.sync.store.states import RefState

#: ``person_refs``' key: a crosswalk write inserts or updates by it.
REF_KEY = ("connection", "record_id")


def new_person_keys(n: int) -> list[str]:
    """``n`` new person keys (32 hex digits) that sort in the order they were made: the clock in
    microseconds, a sequence within the call, then 48 random bits (two workers making keys in the same
    microsecond still differ). Every table keyed or indexed by person (persons, crosswalk, ledger,
    snapshot, decisions) then grows at its end, as a first sync adds people, instead of at random
    places: far fewer pages to touch and write per batch (docs/benchmarks.md)."""
    stamp = time.time_ns() // 1000
    return [f"{stamp + (i >> 24):014x}{i & 0xFFFFFF:06x}{secrets.randbits(48):012x}" for i in range(n)]


def _ref(r: Any) -> RefRow:
    return RefRow(
        r.connection, r.record_id, r.kind, r.person_key, r.email, RefState(r.state), r.survivor_id, aware(r.seen_at)
    )


class CrosswalkStore(StoreBase):
    def refs_by_ids(self, connection: str, record_ids: Iterable[str]) -> dict[str, RefRow]:
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, RefRow] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(ids):
                q = select(t.person_refs).where(
                    t.person_refs.c.connection == connection, t.person_refs.c.record_id.in_(chunk)
                )
                for r in conn.execute(q):
                    out[r.record_id] = _ref(r)
        return out

    def refs_of_persons(self, connection: str, person_keys: Iterable[str]) -> dict[str, list[RefRow]]:
        keys = list(dict.fromkeys(person_keys))
        out: dict[str, list[RefRow]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(keys):
                q = select(t.person_refs).where(
                    t.person_refs.c.connection == connection, t.person_refs.c.person_key.in_(chunk)
                )
                for r in conn.execute(q):
                    out.setdefault(r.person_key, []).append(_ref(r))
        return out

    def persons_by_emails(self, emails: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(emails))
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(wanted):
                q = select(t.persons.c.email, t.persons.c.key).where(t.persons.c.email.in_(chunk))
                for email, key in conn.execute(q.order_by(t.persons.c.created_at, t.persons.c.key)):
                    out.setdefault(email, key)
        return out

    def persons(self, keys: Iterable[str]) -> dict[str, str | None]:
        """{person key: email}."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, str | None] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(wanted):
                for key, email in conn.execute(
                    select(t.persons.c.key, t.persons.c.email).where(t.persons.c.key.in_(chunk))
                ):
                    out[key] = email
        return out

    def add_persons(self, emails: Sequence[str | None], now: datetime) -> list[str]:
        """New persons, one per email (None: a person without one); returns their keys, in order."""
        keys = new_person_keys(len(emails))
        if keys:
            with self.engine.begin() as conn:
                self._write_many(
                    conn, t.persons, ("key", "email"), list(zip(keys, emails, strict=True)), shared={"created_at": now}
                )
        return keys

    def upsert_refs(self, rows: Sequence[RefRow]) -> None:
        """Write crosswalk rows, each replacing the row of its ``(connection, record_id)``."""
        with self.engine.begin() as conn:
            self._write_rows(conn, t.person_refs, rows, REF_KEY)
