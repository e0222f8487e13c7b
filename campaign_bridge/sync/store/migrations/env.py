"""Alembic environment of the state store.

Two ways in:

* :func:`campaign_bridge.sync.store.migrate.upgrade` passes an open connection in
  ``config.attributes["connection"]``, already inside the transaction (and lock) it wants the migrations in;
  this module then runs them on that connection and leaves commit to the caller.
* A developer running ``alembic`` by hand (``revision --autogenerate`` against a scratch database) sets
  ``sqlalchemy.url`` instead; this module then opens, and disposes of, its own engine.

``target_metadata`` is the tables module, so autogenerate proposes what a new revision must change; revisions
themselves never import it (a revision describes one schema state forever, the tables module only the latest).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from campaign_bridge.sync.store.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table so later revisions stay portable.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set config.attributes['connection'] or the sqlalchemy.url option to run migrations")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
