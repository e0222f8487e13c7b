"""What the state database's failures mean to a person: one table from SQLite's and PostgreSQL's error codes
to a ``StateStoreError`` that says where, what and what to do.

The ``Store`` installs :func:`translate` on its engine's ``handle_error`` event, so every error the database
raises (on connect, on migrating, on any read or write, on commit) passes through it once, at the seam where
SQLAlchemy wraps the driver's exception; no method of the store catches anything itself. What the table
knows becomes a ``StateStoreError`` (chained to the original); any other ``OperationalError`` (the database
went away, a time-out) too, with the driver's first line; everything else (an ``IntegrityError``, a
``ProgrammingError``) is a bug in campaign-bridge and is left as it is, traceback and all.

Messages name the database by :func:`describe` (the state file's path, or the URL with its password
hidden); driver messages of SQLite and psycopg hold no secret (psycopg names host, port and user only).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import make_url
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError

from campaign_bridge.errors import StateStoreError

#: What starting afresh costs, said wherever it is offered.
AFRESH = (
    "moving the file aside starts afresh, but forgets which members campaign-bridge added "
    "(mirror rules then leave them in place) and makes every rule read its source in full"
)

#: SQLite's primary result codes (the low byte of an extended code) → what happened, what to do.
SQLITE: dict[int, str] = {
    sqlite3.SQLITE_FULL: (
        "the disk is full (or the file reached its size limit); free some space and run again: "
        "the run resumes where it stopped"
    ),
    sqlite3.SQLITE_READONLY: (
        "it cannot be written (a read-only file, directory or file system); give this user write access "
        "to the file and its directory (runs, conflicts and explain only read, and work as they are)"
    ),
    sqlite3.SQLITE_CORRUPT: f"the file is damaged; restore it from a backup ({AFRESH})",
    sqlite3.SQLITE_NOTADB: f"the file is not a SQLite database (damaged, or another file); restore it from a backup ({AFRESH})",
    sqlite3.SQLITE_CANTOPEN: "it cannot be opened; check that its directory exists and that this user may read and write there",
    sqlite3.SQLITE_IOERR: "the disk failed to read or write it; check the disk and the file system, then run again",
    sqlite3.SQLITE_PERM: "the operating system refused access to it; check its permissions",
    sqlite3.SQLITE_BUSY: "another process kept it locked for longer than the 30 s busy time-out; run again",
    sqlite3.SQLITE_LOCKED: "another process kept it locked for longer than the 30 s busy time-out; run again",
}

#: PostgreSQL SQLSTATEs (exact, then by their two-character class) → what happened, what to do.
POSTGRES: dict[str, str] = {
    "53100": "the database server's disk is full; free space on the server and run again: the run resumes",
    "25006": "the database is read-only here (a standby, or a read-only transaction); point state: at the primary",
    "XX001": "the database reports damaged data; have its administrator check it and restore from a backup",
    "XX002": "the database reports a damaged index; have its administrator REINDEX it",
    "08": "the database server cannot be reached; check that it runs and the URL's host and port, then run again",
    "28": "the database server refused the user or password in the URL",
    "3D": "the database named in the URL does not exist; create it (campaign-bridge creates its tables)",
    "53": "the database server ran out of resources (memory, connections); run again later",
    "57": "the database server is shutting down or cancelled the statement; run again",
}


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (plain or ``file:`` URI form), or None (another database, in memory)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if parsed.query.get("uri") == "true" and database.startswith("file:"):
        rest = unquote(database[len("file:") :].partition("?")[0])
        return None if rest == ":memory:" or parsed.query.get("mode") == "memory" else Path(rest)
    return Path(database)


def describe(url: str) -> str:
    """The database as a person knows it: the state file's path, or the URL with its password hidden."""
    path = sqlite_path(url)
    if path is not None:
        return f"the state file {path}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return "the in-memory state database"
    return f"the state database {parsed.render_as_string(hide_password=True)}"


def store_error(url: str, what: str) -> StateStoreError:
    return StateStoreError(f"{describe(url)}: {what}")


def meaning(original: BaseException) -> str | None:
    """What the table says of a driver's exception, or None when it has no row for it."""
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int):
        return SQLITE.get(code & 0xFF)
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if isinstance(state, str):
        return POSTGRES.get(state) or POSTGRES.get(state[:2])
    return None


def translate(url: str, context: ExceptionContext) -> StateStoreError | None:
    """The ``StateStoreError`` for an error the database raised, or None to let it pass unchanged (a bug)."""
    original = context.original_exception
    what = meaning(original)
    if what is None and isinstance(context.sqlalchemy_exception, OperationalError):
        first = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
        if context.connection is None or context.is_disconnect:  # connecting, or the connection was lost
            what = f"{POSTGRES['08']} ({first})"
        else:
            what = f"the database failed ({first}); run again, and if it persists have the database checked"
    return None if what is None else store_error(url, what)
