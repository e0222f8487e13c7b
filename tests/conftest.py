"""Fixtures every test folder may use: a PostgreSQL server for the session and a fresh store database per test.

``postgres_url`` uses ``CB_TEST_POSTGRES_URL`` when set (a server where that user may create databases),
else starts a throw-away server (``tests/pg_server.py``). Without PostgreSQL the tests that need it are
skipped, unless ``CB_REQUIRE_POSTGRES=1`` (as ``scripts/test.sh`` sets): then they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, make_url, text

from tests.pg_server import PostgresServer, find_bindir

# The test command is reproducible: property tests draw the same examples on every run, so a red CI is
# a regression, not a roll of the dice. CB_HYPOTHESIS=explore draws new ones (run it when hunting bugs).
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile("explore" if os.environ.get("CB_HYPOTHESIS") == "explore" else "repeatable")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Whatever reaches the server is a ``postgres`` test, so ``-m 'not postgres'`` never starts one.
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL (``postgresql+psycopg://``) of a database on a PostgreSQL server living for the session."""
    given = os.environ.get("CB_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bindir = find_bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries not found (no initdb on PATH or in /usr/lib/postgresql/*/bin)"
        if os.environ.get("CB_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}, and CB_REQUIRE_POSTGRES=1", pytrace=False)
        pytest.skip(reason)
    server = PostgresServer(bindir)
    try:
        url = make_url(server.start())
        _admin_execute(url.render_as_string(hide_password=False), "CREATE DATABASE cb_test")
        yield url.set(database="cb_test").render_as_string(hide_password=False)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _postgres_admin(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty database: a SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    admin: Engine = request.getfixturevalue("_postgres_admin")
    name = f"t_{uuid.uuid4().hex[:16]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        # FORCE: a test that forgot to dispose of its engine must not make the next one fail.
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _admin_execute(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
