"""The state store: crosswalk, source snapshots, ledger, watermarks, leases, runs, plans, decisions.

One ``Store`` wraps one SQLAlchemy engine (SQLite file by default, PostgreSQL by URL). Migrations are
applied on open. Every write is a short transaction; bulk operations are batched ``executemany``.
"""

from __future__ import annotations

import operator
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, create_engine, delete, event, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.migrate import upgrade

#: Rows per statement in bulk reads (SQLite allows 32k bound parameters; PostgreSQL 65k).
CHUNK = 900


def new_person_keys(n: int) -> list[str]:
    """``n`` new person keys (32 hex digits) that sort in the order they were made: the clock in
    microseconds, a sequence within the call, then 48 random bits (two workers making keys in the same
    microsecond still differ). Every table keyed or indexed by person (persons, crosswalk, ledger,
    snapshot, decisions) then grows at its end, as a first sync adds people, instead of at random
    places: far fewer pages to touch and write per batch (docs/benchmarks.md)."""
    stamp = time.time_ns() // 1000
    return [f"{stamp + (i >> 24):014x}{i & 0xFFFFFF:06x}{secrets.randbits(48):012x}" for i in range(n)]


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _aware(value: datetime | None) -> datetime | None:
    """SQLite drops time zones; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True, slots=True)
class RefRow:
    connection: str
    record_id: str
    kind: str
    person_key: str
    email: str | None
    state: str
    survivor_id: str | None


@dataclass(frozen=True, slots=True)
class LedgerRow:
    rule: str
    person_key: str
    connection: str
    container_id: str
    target_record_id: str | None
    target_kind: str | None
    status: str | None
    owned: bool
    state: str
    attempts: int
    last_error: str | None
    written_at: datetime | None


class Store:
    """Open (and migrate) the state database at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._statements: dict[Any, tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]] = {}
        upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- helpers -------------------------------------------------------------------------------
    def _write_many(
        self, conn: Connection, table: Any, rows: Sequence[dict[str, Any]], keys: list[str] | None = None
    ) -> None:
        """Insert ``rows`` (or, with ``keys``, insert or update them by those keys), one statement per set
        of columns, run over all its rows.

        SQLite: the statement goes to the driver's ``executemany`` with each row a tuple, its values
        converted by the columns' own SQLAlchemy bind processors (dates are stored exactly as a
        SQLAlchemy insert stores them). SQLAlchemy's per-row parameter handling was most of a large
        sync's time (docs/benchmarks.md); the driver's loop is in C. PostgreSQL: a compiled-once
        SQLAlchemy statement, which "insertmanyvalues" sends in multi-row batches.
        """
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            by_columns.setdefault(tuple(row), []).append(row)
        for columns, group in by_columns.items():
            if self.engine.dialect.name == "sqlite":
                sql, convert = self._sqlite_statement(table, columns, keys)
                conn.exec_driver_sql(sql, [convert(row) for row in group])
                continue
            stmt = postgresql.insert(table)
            changed = {c: stmt.excluded[c] for c in columns if c not in (keys or ())}
            if keys is not None:
                stmt = (
                    stmt.on_conflict_do_update(index_elements=keys, set_=changed)
                    if changed
                    else stmt.on_conflict_do_nothing()
                )
            conn.execute(stmt, group)

    def _sqlite_statement(
        self, table: Any, columns: tuple[str, ...], keys: list[str] | None
    ) -> tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]:
        """The SQLite ``INSERT`` (``… ON CONFLICT (keys) DO UPDATE`` the given columns) for rows of
        ``columns``, and the function turning such a row into its parameters. A column the rows leave
        out takes its scalar default on insert, as SQLAlchemy gives it, and is not updated."""
        cache_key = (table.name, columns, tuple(keys) if keys is not None else None)
        cached = self._statements.get(cache_key)
        if cached is not None:
            return cached
        dialect = self.engine.dialect
        defaults = {
            c.name: c.default.arg
            for c in table.columns
            if c.name not in columns and c.default is not None and c.default.is_scalar
        }
        names = [*columns, *defaults]
        processors = [_memo(table.c[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names]
        q = dialect.identifier_preparer.quote
        sql = f"INSERT INTO {q(table.name)} ({', '.join(map(q, names))}) VALUES ({', '.join('?' * len(names))})"
        if keys is not None:
            changed = [c for c in columns if c not in keys]
            sql += f" ON CONFLICT ({', '.join(map(q, keys))}) DO " + (
                "UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in changed) if changed else "NOTHING"
            )
        fixed = tuple(
            p(v) if p is not None and v is not None else v
            for p, v in zip(processors[len(columns) :], defaults.values(), strict=True)
        )
        # Most columns have no bind processor on SQLite (dates and booleans do): take the row's values in
        # one C call and convert just the columns that need it; this runs once per row written.
        take = operator.itemgetter(*columns)
        single = len(columns) == 1
        convert_at = [(i, p) for i, p in enumerate(processors[: len(columns)]) if p is not None]

        def convert(row: dict[str, Any]) -> tuple[Any, ...]:
            values = (take(row),) if single else take(row)
            if convert_at:
                listed = list(values)
                for i, p in convert_at:
                    if listed[i] is not None:
                        listed[i] = p(listed[i])
                values = tuple(listed)
            return values + fixed if fixed else values

        self._statements[cache_key] = (sql, convert)
        return sql, convert

    # -- leases --------------------------------------------------------------------------------
    def try_lease(self, rule: str, holder: str, expires_at: datetime, now: datetime) -> bool:
        """Take or renew the rule's lease; False when another holder's lease has not expired."""
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(t.leases)
                .where(t.leases.c.rule == rule, or_(t.leases.c.holder == holder, t.leases.c.expires_at < now))
                .values(holder=holder, expires_at=expires_at)
            ).rowcount
            if taken:
                return True
            exists = conn.execute(select(t.leases.c.rule).where(t.leases.c.rule == rule)).first()
            if exists:
                return False
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t.leases).values(rule=rule, holder=holder, expires_at=expires_at))
            return True
        except Exception:  # a concurrent insert won the race: the unique key decides
            return False

    def lease_holder(self, rule: str) -> str | None:
        """Who holds the rule's lease (expired or not), or None."""
        with self.engine.connect() as conn:
            return conn.execute(select(t.leases.c.holder).where(t.leases.c.rule == rule)).scalar()

    def take_over_lease(self, rule: str, dead_holder: str, holder: str, expires_at: datetime) -> bool:
        """Take the lease from ``dead_holder`` (a worker known to be gone); False if it changed hands."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(t.leases)
                    .where(t.leases.c.rule == rule, t.leases.c.holder == dead_holder)
                    .values(holder=holder, expires_at=expires_at)
                ).rowcount
            )

    def release_lease(self, rule: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.leases).where(t.leases.c.rule == rule, t.leases.c.holder == holder))

    # -- crosswalk -----------------------------------------------------------------------------
    def refs_by_ids(self, connection: str, record_ids: Iterable[str]) -> dict[str, RefRow]:
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, RefRow] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                q = select(t.person_refs).where(
                    t.person_refs.c.connection == connection, t.person_refs.c.record_id.in_(chunk)
                )
                for r in conn.execute(q):
                    out[r.record_id] = RefRow(
                        r.connection, r.record_id, r.kind, r.person_key, r.email, r.state, r.survivor_id
                    )
        return out

    def refs_of_persons(self, connection: str, person_keys: Iterable[str]) -> dict[str, list[RefRow]]:
        keys = list(dict.fromkeys(person_keys))
        out: dict[str, list[RefRow]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(keys):
                q = select(t.person_refs).where(
                    t.person_refs.c.connection == connection, t.person_refs.c.person_key.in_(chunk)
                )
                for r in conn.execute(q):
                    out.setdefault(r.person_key, []).append(
                        RefRow(r.connection, r.record_id, r.kind, r.person_key, r.email, r.state, r.survivor_id)
                    )
        return out

    def persons_by_emails(self, emails: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(emails))
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                q = select(t.persons.c.email, t.persons.c.key).where(t.persons.c.email.in_(chunk))
                for email, key in conn.execute(q.order_by(t.persons.c.created_at, t.persons.c.key)):
                    out.setdefault(email, key)
        return out

    def persons(self, keys: Iterable[str]) -> dict[str, str | None]:
        """{person key: email}."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, str | None] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                for key, email in conn.execute(
                    select(t.persons.c.key, t.persons.c.email).where(t.persons.c.key.in_(chunk))
                ):
                    out[key] = email
        return out

    def add_persons(self, emails: Sequence[str | None], now: datetime) -> list[str]:
        keys = new_person_keys(len(emails))
        rows = [{"key": k, "email": e, "created_at": now} for k, e in zip(keys, emails, strict=True)]
        if rows:
            with self.engine.begin() as conn:
                self._write_many(conn, t.persons, rows)
        return keys

    def upsert_refs(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            self._write_many(conn, t.person_refs, rows, ["connection", "record_id"])

    # -- source snapshot -----------------------------------------------------------------------
    def snapshot_persons(self, rule: str, person_keys: Iterable[str] | None = None) -> set[str]:
        """Persons with at least one record in the rule's source snapshot (all, or among ``person_keys``)."""
        c = t.source_members.c
        with self.engine.connect() as conn:
            if person_keys is None:
                return {k for (k,) in conn.execute(select(c.person_key).where(c.rule == rule).distinct())}
            out: set[str] = set()
            for chunk in _chunks(list(set(person_keys))):
                q = select(c.person_key).where(c.rule == rule, c.person_key.in_(chunk)).distinct()
                out |= {k for (k,) in conn.execute(q)}
            return out

    def snapshot_records(self, rule: str, record_ids: Iterable[str]) -> dict[str, str]:
        """{record id: person key} for records already in the snapshot."""
        c = t.source_members.c
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(set(record_ids))):
                q = select(c.record_id, c.person_key).where(c.rule == rule, c.record_id.in_(chunk))
                out.update({rid: key for rid, key in conn.execute(q)})
        return out

    def persons_with_other_records(self, rule: str, persons: set[str], excluding: set[str]) -> set[str]:
        """Which of ``persons`` keep a snapshot record outside ``excluding`` (still in the source)."""
        c = t.source_members.c
        out: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(list(persons)):
                q = select(c.person_key, c.record_id).where(c.rule == rule, c.person_key.in_(chunk))
                out |= {k for k, rid in conn.execute(q) if rid not in excluding}
        return out

    def update_snapshot(
        self, rule: str, upserts: list[dict[str, Any]], deletes: Sequence[str], *, seen_in: str | None = None
    ) -> set[str]:
        """Write part of the rule's source snapshot; returns the person keys of the deleted records.

        ``seen_in`` (a full read's token) stamps the upserted records, so that ``drop_unseen`` can remove
        the records the read did not see once it is over.
        """
        c = t.source_members.c
        gone: set[str] = set()
        with self.engine.begin() as conn:
            for chunk in _chunks(list(deletes)):
                gone |= {k for (k,) in conn.execute(select(c.person_key).where(c.rule == rule, c.record_id.in_(chunk)))}
                conn.execute(delete(t.source_members).where(c.rule == rule, c.record_id.in_(chunk)))
            rows = [{"rule": rule, **u, "seen_in": seen_in} for u in upserts]
            self._write_many(conn, t.source_members, rows, ["rule", "record_id"])
        return gone

    def drop_unseen(self, rule: str, seen_in: str) -> set[str]:
        """End a full read: delete the snapshot records not stamped ``seen_in``; returns their persons."""
        c = t.source_members.c
        unseen = and_(c.rule == rule, or_(c.seen_in.is_(None), c.seen_in != seen_in))
        with self.engine.begin() as conn:
            gone = {k for (k,) in conn.execute(select(c.person_key).where(unseen).distinct())}
            conn.execute(delete(t.source_members).where(unseen))
        return gone

    # -- ledger --------------------------------------------------------------------------------
    @staticmethod
    def _ledger_row(r: Any) -> LedgerRow:
        return LedgerRow(
            r.rule,
            r.person_key,
            r.connection,
            r.container_id,
            r.target_record_id,
            r.target_kind,
            r.status,
            bool(r.owned),
            r.state,
            r.attempts,
            r.last_error,
            _aware(r.written_at),
        )

    def ledger(self, rule: str, person_keys: Iterable[str] | None = None) -> dict[str, LedgerRow]:
        c = t.ledger.c
        out: dict[str, LedgerRow] = {}
        with self.engine.connect() as conn:
            if person_keys is None:
                for r in conn.execute(select(t.ledger).where(c.rule == rule)):
                    out[r.person_key] = self._ledger_row(r)
                return out
            for chunk in _chunks(list(set(person_keys))):
                for r in conn.execute(select(t.ledger).where(c.rule == rule, c.person_key.in_(chunk))):
                    out[r.person_key] = self._ledger_row(r)
        return out

    def ledger_keys(self, rule: str) -> set[str]:
        """Every person in the rule's ledger (keys only: a full read diffs the ledger a chunk at a time)."""
        c = t.ledger.c
        with self.engine.connect() as conn:
            return {k for (k,) in conn.execute(select(c.person_key).where(c.rule == rule))}

    def ledger_keys_in_state(self, rule: str, states: Sequence[str]) -> set[str]:
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
            for chunk in _chunks(list(set(person_keys))):
                cond = [c.rule != rule, c.connection == connection, c.person_key.in_(chunk), c.state == "present"]
                if container_id is not None:
                    cond.append(c.container_id == container_id)
                out.extend(self._ledger_row(r) for r in conn.execute(select(t.ledger).where(and_(*cond))))
        return out

    def write_ledger(self, rows: list[dict[str, Any]], deletes: Sequence[tuple[str, str]] = ()) -> None:
        """Upsert ledger rows and delete ``(rule, person_key)`` rows, in one transaction."""
        with self.engine.begin() as conn:
            for rule, key in deletes:
                conn.execute(delete(t.ledger).where(t.ledger.c.rule == rule, t.ledger.c.person_key == key))
            self._write_many(conn, t.ledger, rows, ["rule", "person_key"])

    def requeue(self, rule: str) -> int:
        """Give dead-lettered and rejected items of ``rule`` a fresh set of attempts."""
        c = t.ledger.c
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(t.ledger)
                    .where(c.rule == rule, c.state.in_(("dead", "rejected", "failed")))
                    .values(state="failed", attempts=0)
                ).rowcount
            )

    def ledger_counts(self, rule: str) -> dict[str, int]:
        c = t.ledger.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.state, c.owned, func.count()).where(c.rule == rule).group_by(c.state, c.owned))
            out: dict[str, int] = {}
            for state, owned, n in rows:
                out[state] = out.get(state, 0) + n
                if owned and state == "present":
                    out["owned"] = out.get("owned", 0) + n
            return out

    # -- watermarks ----------------------------------------------------------------------------
    def watermark(self, rule: str) -> tuple[Watermark | None, datetime | None]:
        with self.engine.connect() as conn:
            r = conn.execute(select(t.watermarks).where(t.watermarks.c.rule == rule)).first()
        if r is None:
            return None, None
        at = _aware(r.at)
        assert at is not None
        return Watermark(at, r.tie_id), _aware(r.full_read_at)

    def source_version(self, rule: str) -> str | None:
        """The membership version of the rule's source at its last clean full read (None if it gave none)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.watermarks.c.source_version).where(t.watermarks.c.rule == rule)
            ).scalar_one_or_none()

    def set_watermark(
        self,
        rule: str,
        mark: Watermark,
        full_read_at: datetime | None,
        now: datetime,
        *,
        source_version: str | None = None,
    ) -> None:
        """Advance the rule's watermark; a full read (``full_read_at``) also records the source's version."""
        row: dict[str, Any] = {"rule": rule, "at": mark.at, "tie_id": mark.tie_id, "updated_at": now}
        if full_read_at is not None:
            row["full_read_at"] = full_read_at
            row["source_version"] = source_version
        with self.engine.begin() as conn:
            self._write_many(conn, t.watermarks, [row], ["rule"])

    def reset_rule(self, rule: str) -> None:
        """Forget a rule's watermark so its next run reads fully."""
        with self.engine.begin() as conn:
            conn.execute(delete(t.watermarks).where(t.watermarks.c.rule == rule))

    # -- runs, plans, decisions ----------------------------------------------------------------
    def start_run(self, client: str, rule: str, mode: str, now: datetime) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(t.runs).values(
                    client=client,
                    rule=rule,
                    mode=mode,
                    status="running",
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

    def runs(self, limit: int = 20, rule: str | None = None) -> list[dict[str, Any]]:
        q = select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)
        if rule:
            q = q.where(t.runs.c.rule == rule)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def save_plan(self, run_id: int, rule: str, held: bool, summary: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(t.plans).values(run_id=run_id, rule=rule, held=held, summary=summary))

    def log(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        with self.engine.begin() as conn:
            self._write_many(conn, t.decisions, rows)

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


def _memo(process: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """``process`` remembering its last value: the rows of one write mostly share one timestamp (the
    run's ``now``), which SQLAlchemy's SQLite date processor would otherwise format once per row."""
    if process is None:
        return None
    last: list[tuple[Any, Any]] = [(object(), None)]

    def remembered(value: Any) -> Any:
        seen, out = last[0]
        if value is not seen:
            out = process(value)
            last[0] = (value, out)
        return out

    return remembered


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA cache_size=-32768")
    cur.close()
