"""What every part of the ``Store`` stands on: the database engine and the bulk writer.

One ``StoreBase`` wraps one SQLAlchemy engine (SQLite file by default, PostgreSQL by URL). Migrations are
applied on open, unless it is opened ``read_only``. Every write is a short transaction; bulk operations are
batched ``executemany``.

Every failure of the database surfaces as a ``StateStoreError`` saying where, what and what to do
(``failures.py``), through the engine's ``handle_error`` event: disk full, read-only, damaged, unreachable.
Before anything is opened, a SQLite state file of zero bytes is refused (see ``_open_sqlite_file``).
"""

from __future__ import annotations

import contextlib
import operator
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote

from sqlalchemy import Engine, Table, create_engine, event, make_url
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from campaign_bridge.errors import StateStoreError
from campaign_bridge.sync.store.failures import sqlite_path, store_error, translate
from campaign_bridge.sync.store.migrate import SchemaMismatch, check_current, upgrade

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
    """Open (and migrate) the state database at ``url``.

    ``read_only`` (``runs``, ``conflicts``, ``explain``): nothing is created or migrated, and a SQLite file
    is opened read-only, so a store this user cannot write can still be read; its schema must then be
    current. Raises ``StateStoreError`` when the database cannot be opened, migrated or, read-only, read.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        path = sqlite_path(url)
        engine_url = url
        if path is not None:
            _open_sqlite_file(url, path, read_only=read_only)
            if read_only:
                engine_url = _read_only_url(url, path)
        self.engine: Engine = create_engine(engine_url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _read_only_pragmas if read_only else _sqlite_pragmas)
        event.listen(self.engine, "handle_error", self._translate, retval=True)
        self._statements: dict[Any, _SqliteInsert] = {}
        try:
            if read_only:
                check_current(self.engine)
            else:
                upgrade(self.engine)
        except SchemaMismatch as exc:
            self.engine.dispose()
            raise store_error(url, str(exc)) from exc
        except StateStoreError:
            self.engine.dispose()
            raise

    def _translate(self, context: ExceptionContext) -> BaseException | None:
        return translate(self.url, context)

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


#: What a zero-length state file most likely is, and what to do; said when one is refused.
EMPTY_FILE = (
    "the file is empty (0 bytes) where a database was expected; an empty state file usually means a copy "
    "that failed or a disk that was full. Restore it from a backup, or delete it to start with new state "
    "(every rule then reads its source in full, and forgets which members campaign-bridge added)"
)


def _open_sqlite_file(url: str, path: Path, *, read_only: bool) -> None:
    """Make sure the SQLite file at ``path`` may be opened: create it (and its directory) unless
    ``read_only``; refuse a missing file when ``read_only``, and a zero-length file always.

    SQLite would take a zero-length file for a new, empty database and start afresh over whatever the
    file was meant to hold. So that a zero-length file is never one of ours, a new state file is made
    whole elsewhere (``_create``) and linked into place: another campaign-bridge process starting at the
    same moment sees no file or a database, never the empty file ``sqlite3.connect`` creates first.
    """
    if read_only:
        if not path.exists():
            raise store_error(
                url,
                "there is no state file here (no rule of this client has run with this state: setting; "
                "a relative path is taken from the current directory)",
            )
    else:
        blocked = next((d for d in (path.parent, *path.parent.parents) if d.exists() and not d.is_dir()), None)
        if blocked is not None:
            raise store_error(url, f"it cannot be created: {blocked} is a file, not a directory")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                _create(path)
        except OSError as exc:
            raise store_error(url, f"cannot create the file or its directory: {exc.strerror or exc}") from exc
    try:
        empty = path.stat().st_size == 0
    except OSError as exc:
        raise store_error(url, f"cannot read the file: {exc.strerror or exc}") from exc
    if empty:
        raise store_error(url, EMPTY_FILE)


def _create(path: Path) -> None:
    """Create an empty WAL-mode database at ``path`` in one step (or leave the one another process made)."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        connection = sqlite3.connect(scratch)
        try:
            connection.execute("PRAGMA journal_mode=WAL")  # writes the file's first page
        finally:
            connection.close()
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process: keep theirs
            os.link(scratch, path)  # atomic, and never replaces
    except sqlite3.Error as exc:
        raise OSError(str(exc)) from exc
    finally:
        scratch.unlink(missing_ok=True)


def _read_only_url(url: str, path: Path) -> str:
    """``url`` as a SQLite URI opening ``path`` read-only (``mode=ro``); ``immutable`` too when that is the
    only way to read it (``_needs_immutable``)."""
    parsed = make_url(url)
    query = {k: v for k, v in parsed.query.items() if k not in ("uri", "mode", "immutable")}
    query |= {"mode": "ro", "uri": "true"}
    uri = f"file:{quote(str(path))}"
    if _needs_immutable(uri):
        query["immutable"] = "1"
    return parsed.set(database=uri, query=query).render_as_string(hide_password=False)


def _needs_immutable(uri: str) -> bool:
    """Whether SQLite cannot read the database at ``uri`` read-only with its usual locking, for want of a
    file it must create beside it: a WAL database needs its ``-shm`` file, which a read-only directory (a
    read-only mount, a directory of another user) will not take. SQLite then reads it only as
    ``immutable``, without locks. That is safe here: a writer would need that same directory for its
    ``-wal`` and ``-shm`` files, so none is at work. (A ``-wal`` left by a crash is not read then; the
    next writer replays it.)"""
    try:
        connection = sqlite3.connect(f"{uri}?mode=ro", uri=True)
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        return code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY)
    return False


def _read_only_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # No journal mode: setting one writes. A read-only connection needs nothing else of the others.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA cache_size=-32768")
    cur.close()
