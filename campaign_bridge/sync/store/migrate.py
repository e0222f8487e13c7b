"""Bring a state-store database to the newest schema.

:func:`upgrade` is what the Store calls on every start: it applies the Alembic revisions in ``migrations/``
that the database has not seen yet, and does nothing when it is already current. No ``alembic.ini`` is
needed; the Alembic configuration is built here and points at the ``migrations`` folder of this package.

Two processes starting at once (two workers on one PostgreSQL database, or a worker and the CLI on one SQLite
file) must not both create the same tables, so the whole upgrade runs in one transaction that first takes a
lock every other upgrader waits for:

* PostgreSQL: a transaction-scoped advisory lock (``pg_advisory_xact_lock``). It is released by the commit or
  the rollback that ends the upgrade, so a failed upgrade can never leave it held on a pooled connection.
  PostgreSQL runs DDL transactionally, so a failure leaves the schema exactly as it was.
* SQLite: ``BEGIN IMMEDIATE``, the database's write lock, taken before Alembic reads the version table.
  A second process waits up to the driver's busy timeout, then sees the schema already current.

Within one process, upgrades also take turns on a thread lock, whatever their database: Alembic's ``op`` and
``context`` are module-level proxies, so two upgrades running at once in two threads would send each other's
DDL to the wrong connection.

A database at a revision this code does not know was written by a newer campaign-bridge: :func:`upgrade`
refuses it (``SchemaMismatch``) rather than fail inside Alembic. :func:`check_current` is what a read-only
store calls instead of upgrading: it writes nothing, and refuses a schema that is not exactly the newest.

To write a new revision, edit ``tables.py``, upgrade a scratch database to head, run Alembic's autogenerate
against it (``alembic.command.revision(alembic_config(url), message=..., autogenerate=True)``), review the
generated file and run ``ruff check --fix`` and ``ruff format`` on it. The revisions must build exactly the
schema of ``tables.py``: the test suite compares the two on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import threading

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

#: Where Alembic finds ``env.py`` and ``versions/`` (a package resource, so it works from any install).
SCRIPT_LOCATION = "campaign_bridge.sync.store:migrations"

#: Key of the PostgreSQL advisory lock held while upgrading; any constant unique to this application.
#: (int64 of the ASCII of "cbschema".)
ADVISORY_LOCK_KEY = 0x6362736368656D61

_in_process = threading.Lock()


class SchemaMismatch(Exception):
    """The database's schema is not one this code can use as it is; the message says why and what to do."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for the state store's revisions, with ``sqlalchemy.url`` set when given.

    The configuration is built in memory: no ``alembic.ini`` is read or needed.
    """
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # Explicit, so Alembic does not warn that it falls back to legacy splitting of path lists.
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser treats "%" as interpolation; URL-encoded passwords contain it.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Apply every pending revision to the database of ``engine``; a no-op when it is already at head.

    Safe to call on every start, and from several threads and processes at once (see the module docstring).
    Raises whatever the database raises (``sqlalchemy.exc.OperationalError`` when it cannot be reached, or
    when another upgrader holds the SQLite lock past the busy timeout; the ``Store``'s engine turns those
    into ``StateStoreError``); the transaction is then rolled back.
    Raises ``SchemaMismatch`` when the database was written by a newer campaign-bridge.
    """
    with _in_process, engine.connect() as connection, connection.begin():
        _lock(connection)
        current = _revision(connection)
        _refuse_unknown(current)
        if current == _head():
            return  # Alembic would load every revision script again only to find nothing to do
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def check_current(engine: Engine) -> None:
    """Writing nothing, raise ``SchemaMismatch`` unless the database's schema is the newest one."""
    with engine.connect() as connection:
        current = _revision(connection)
        if current is None:
            empty = not inspect(connection).get_table_names()
            raise SchemaMismatch(
                "it holds no state yet (no rule has run)"
                if empty
                else "it is not a campaign-bridge state database (it has no schema version)"
            )
        _refuse_unknown(current)
        if current != _head():
            raise SchemaMismatch(
                f"its schema (revision {current}) is older than this campaign-bridge's "
                f"({_head()}), and a read-only command does not upgrade it; run sync or "
                "plan once with write access to the state (they upgrade it), or use the campaign-bridge "
                "that wrote it"
            )


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def _known() -> tuple[frozenset[str], str | None]:
    """Every revision this code knows, and the newest: read from the revision scripts once per process."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(s.revision for s in scripts.walk_revisions()), scripts.get_current_head()


def _head() -> str | None:
    return _known()[1]


def _refuse_unknown(current: str | None) -> None:
    if current is not None and current not in _known()[0]:
        raise SchemaMismatch(
            f"it was written by a newer campaign-bridge (schema revision {current}, unknown to this one); "
            "upgrade campaign-bridge, or point state: at another database"
        )


def _lock(connection: Connection) -> None:
    """Take the upgrade lock inside the transaction just begun on ``connection``."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif dialect == "sqlite":
        driver = connection.connection.driver_connection
        # pysqlite defers BEGIN until the first write; an engine configured to emit its own BEGIN at the start of
        # every transaction (SQLAlchemy's documented recipe) is already in one, and a second BEGIN would fail.
        if not getattr(driver, "in_transaction", False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
