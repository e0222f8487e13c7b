"""The migrations build exactly the schema of ``tables.py``, on SQLite and PostgreSQL, however often they run."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, select, text

from campaign_bridge.sync.store import tables
from campaign_bridge.sync.store.migrate import alembic_config, upgrade


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = create_engine(store_url)
    yield engine
    engine.dispose()


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _version(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_upgrade_creates_every_table(engine: Engine) -> None:
    upgrade(engine)

    assert set(inspect(engine).get_table_names()) == {*tables.metadata.tables, "alembic_version"}
    assert _version(engine) == [_head()]


def test_upgrade_again_keeps_schema_and_data(engine: Engine) -> None:
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(tables.persons.insert().values(key="p1", email="ada@example.com", created_at=now))

    upgrade(engine)

    with engine.connect() as connection:
        assert connection.execute(select(tables.persons.c.email)).scalars().all() == ["ada@example.com"]
    assert _version(engine) == [_head()]


def test_migrated_schema_matches_tables_module(engine: Engine) -> None:
    upgrade(engine)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        differences = compare_metadata(context, tables.metadata)

    assert differences == [], "migrations and tables.py drifted apart; write a revision for the difference"


def _upgrade_when_all_ready(url: str, ready: Barrier) -> None:
    engine = create_engine(url)
    # A generous bound, only so that a worker that died before the barrier fails the test instead of hanging it.
    ready.wait(timeout=120)
    upgrade(engine)
    engine.dispose()


def test_processes_upgrading_one_database_at_once_all_succeed(store_url: str) -> None:
    # Separate processes, as separate workers would be: only the database's own lock keeps them apart.
    spawn = multiprocessing.get_context("spawn")
    workers = 3
    ready = spawn.Barrier(workers)
    processes = [spawn.Process(target=_upgrade_when_all_ready, args=(store_url, ready)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=240)
        if process.is_alive():
            process.kill()

    assert [process.exitcode for process in processes] == [0] * workers, "an upgrader failed; its error is above"
    engine = create_engine(store_url)
    try:
        assert _version(engine) == [_head()]
        assert set(inspect(engine).get_table_names()) == {*tables.metadata.tables, "alembic_version"}
    finally:
        engine.dispose()


def test_threads_upgrading_different_databases_at_once_all_succeed(tmp_path: Path) -> None:
    # One process serving several stores: each upgrade must reach its own database only.
    engines = [create_engine(f"sqlite:///{tmp_path / f'store{index}.db'}") for index in range(3)]
    ready = threading.Barrier(len(engines))
    errors: list[Exception] = []

    def run(engine: Engine) -> None:
        try:
            ready.wait(timeout=120)
            upgrade(engine)
        except Exception as exc:  # collected, so the assertion below shows every worker's error
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        for engine in engines:
            assert _version(engine) == [_head()]
            assert set(inspect(engine).get_table_names()) == {*tables.metadata.tables, "alembic_version"}
    finally:
        for engine in engines:
            engine.dispose()
