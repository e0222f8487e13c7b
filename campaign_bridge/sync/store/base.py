"""What every part of the ``Store`` stands on: the database engine and the bulk writer.

One ``StoreBase`` wraps one SQLAlchemy engine (SQLite file by default, PostgreSQL by URL). Migrations are
applied on open. Every write is a short transaction; bulk operations are batched ``executemany``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from campaign_bridge.sync.store.migrate import upgrade

#: Rows per statement in bulk reads (SQLite allows 32k bound parameters; PostgreSQL 65k).
CHUNK = 900

Processor = Callable[[Any], Any]


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
@overload
def aware(value: datetime | None) -> datetime | None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite drops time zones; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class _SqliteInsert:
    """A cached SQLite ``INSERT`` for rows of some columns: its SQL, the positions of the row's values that
    need a bind processor, the processors of the shared values, and the defaults of the columns left out."""

    __slots__ = ("defaults", "processed", "shared", "sql")

    def __init__(
        self,
        sql: str,
        processed: list[tuple[int, Processor]],
        shared: list[Processor | None],
        defaults: tuple[Any, ...],
    ) -> None:
        self.sql, self.processed, self.shared, self.defaults = sql, processed, shared, defaults


class StoreBase:
    """Open (and migrate) the state database at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._statements: dict[Any, _SqliteInsert] = {}
        upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def _write_rows(
        self,
        conn: Connection,
        table: Table,
        rows: Sequence[Any],
        keys: Sequence[str] | None = None,
        shared: Mapping[str, Any] | None = None,
    ) -> None:
        """``_write_many`` for typed rows (``rows.py``), all of one class: its fields are the columns."""
        if rows:
            columns, take = _columns(type(rows[0]))
            self._write_many(conn, table, columns, rows, keys, shared, take=take)

    def _write_many(
        self,
        conn: Connection,
        table: Table,
        columns: tuple[str, ...],
        rows: Sequence[Any],
        keys: Sequence[str] | None = None,
        shared: Mapping[str, Any] | None = None,
        *,
        take: Callable[[Any], tuple[Any, ...]] | None = None,
    ) -> None:
        """Insert ``rows`` (or, with ``keys``, insert or update them by those keys) in one statement run
        over all of them. Each row is a tuple of the values of ``columns`` (or ``take`` makes it one);
        ``shared`` gives the columns whose value is the same in every row (the rule, the run…). A column
        neither names takes its scalar default on insert, as SQLAlchemy gives it, and is not updated.

        SQLite: the statement goes to the driver's ``executemany`` with each row a tuple, its values
        converted by the columns' own SQLAlchemy bind processors (dates are stored exactly as a
        SQLAlchemy insert stores them). SQLAlchemy's per-row parameter handling was most of a large
        sync's time (docs/benchmarks.md); the driver's loop is in C. Each row is made a tuple, converted
        and completed in one pass; the shared values are converted once per call. PostgreSQL: a
        compiled-once SQLAlchemy statement, which "insertmanyvalues" sends in multi-row batches.
        """
        if not rows:
            return
        shared = shared or {}
        tuples = rows if take is None else map(take, rows)
        if self.engine.dialect.name == "sqlite":
            stmt = self._sqlite_statement(table, columns, tuple(shared), keys)
            tail = (
                tuple(
                    p(v) if p is not None and v is not None else v
                    for p, v in zip(stmt.shared, shared.values(), strict=True)
                )
                + stmt.defaults
            )
            params: list[tuple[Any, ...]]
            if not stmt.processed:
                params = [row + tail for row in tuples] if tail else list(tuples)
            else:
                # Most columns have no bind processor on SQLite (dates and booleans do): convert just the
                # ones that need it; this runs once per row written.
                params = []
                for row in tuples:
                    listed = list(row)
                    for i, p in stmt.processed:
                        if listed[i] is not None:
                            listed[i] = p(listed[i])
                    params.append((*listed, *tail))
            conn.exec_driver_sql(stmt.sql, params)
            return
        names = (*columns, *shared)
        values = tuple(shared.values())
        pg = postgresql.insert(table)
        if keys is not None:
            changed = {c: pg.excluded[c] for c in names if c not in keys}
            pg = (
                pg.on_conflict_do_update(index_elements=list(keys), set_=changed)
                if changed
                else pg.on_conflict_do_nothing()
            )
        conn.execute(pg, [dict(zip(names, row + values, strict=True)) for row in tuples])

    def _sqlite_statement(
        self, table: Table, columns: tuple[str, ...], shared: tuple[str, ...], keys: Sequence[str] | None
    ) -> _SqliteInsert:
        """The SQLite ``INSERT`` (``… ON CONFLICT (keys) DO UPDATE`` the given columns) for rows of
        ``columns`` followed by the ``shared`` columns, then the defaults of the columns left out."""
        cache_key = (table.name, columns, shared, tuple(keys) if keys is not None else None)
        cached = self._statements.get(cache_key)
        if cached is not None:
            return cached
        dialect = self.engine.dialect
        named = (*columns, *shared)
        defaults = {
            c.name: c.default.arg
            for c in table.columns
            if c.name not in named and isinstance(c.default, ScalarElementColumnDefault)
        }
        names = [*named, *defaults]
        processors = [_memo(table.c[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names]
        q = dialect.identifier_preparer.quote
        sql = f"INSERT INTO {q(table.name)} ({', '.join(map(q, names))}) VALUES ({', '.join('?' * len(names))})"
        if keys is not None:
            changed = [c for c in named if c not in keys]
            sql += f" ON CONFLICT ({', '.join(map(q, keys))}) DO " + (
                "UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in changed) if changed else "NOTHING"
            )
        fixed = tuple(
            p(v) if p is not None and v is not None else v
            for p, v in zip(processors[len(named) :], defaults.values(), strict=True)
        )
        processed = [(i, p) for i, p in enumerate(processors[: len(columns)]) if p is not None]
        stmt = _SqliteInsert(sql, processed, processors[len(columns) : len(named)], fixed)
        self._statements[cache_key] = stmt
        return stmt


_row_columns: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _columns(row_class: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    """The columns of a row class (its fields), and the function making a row the tuple of their values
    in one C call."""
    known = _row_columns.get(row_class)
    if known is None:
        names: tuple[str, ...] = row_class._fields  # type: ignore[attr-defined]
        assert len(names) > 1, "attrgetter of one name returns the value, not a 1-tuple"
        known = _row_columns[row_class] = (names, operator.attrgetter(*names))
    return known


def _memo(process: Processor | None) -> Processor | None:
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
