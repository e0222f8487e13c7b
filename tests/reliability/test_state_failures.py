"""A state store that fails gets a clear message and exit code 1, never a traceback.

Disk full (SQLite's own page limit, ``PRAGMA max_page_count``, stands in for a full disk: the driver raises
the same ``SQLITE_FULL``), read-only (a ``mode=ro`` URI: root, as CI runs, ignores file permissions), a
damaged file, a zero-length file, a directory that cannot be made, a newer or older schema, an unreachable
PostgreSQL server. Each message names the database (the file's path, or the URL without its password) and
says what to do; the read-only commands work on a store they cannot write.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, event, text

from campaign_bridge.cli import main
from campaign_bridge.connectors.memory.data import drop_memory_store, memory_store
from campaign_bridge.errors import StateStoreError
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.sync.store.store import Store

_ids = itertools.count()

CLIENT = """client: acme
state: "{state}"
connections:
  crm: {{type: memory-crm, store: {crm}}}
  ma: {{type: memory-ma, store: {ma}}}
rules:
  - name: webinar
    from: {{connection: crm, campaign: Webinar}}
    to: {{connection: ma, list: Nurture}}
"""


class Client:
    """A client file over a seeded memory CRM and MA, its state at ``state`` (a path, or a URL)."""

    def __init__(self, tmp: Path, people: int = 3) -> None:
        n = next(_ids)
        self.tmp, self.crm_name, self.ma_name = tmp, f"state-crm-{n}", f"state-ma-{n}"
        crm, ma = memory_store(self.crm_name), memory_store(self.ma_name)
        camp = crm.add_container("Webinar", ContainerKind.CAMPAIGN, [("Sent", False)])
        ma.add_container("Nurture", ContainerKind.STATIC_LIST)
        for i in range(people):
            crm.add_member(camp, crm.add_person(f"p{i}@example.com", "Contact"), "Sent")
        self.path = tmp / "state" / "acme.db"

    def file(self, state: str | None = None) -> Path:
        config = self.tmp / "client.yaml"
        url = state or f"sqlite:///{self.path}"
        config.write_text(CLIENT.format(state=url, crm=self.crm_name, ma=self.ma_name), encoding="utf-8")
        return config

    def read_only_file(self) -> Path:
        return self.file(f"sqlite:///file:{self.path}?mode=ro&uri=true")

    def close(self) -> None:
        drop_memory_store(self.crm_name)
        drop_memory_store(self.ma_name)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(tmp_path)
    yield c
    c.close()


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _refused(result: Result, *expected: str) -> None:
    """Exit 1 with a message (each of ``expected`` in it), and no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # a clean exit, not a crash
    shown = " ".join(result.output.split())  # the report's table wraps long lines
    for part in expected:
        assert part in shown
    assert "Traceback" not in result.output
    assert "sqlalchemy" not in result.output.lower()


def _sync_ok(client: Client) -> None:
    result = _run("sync", str(client.file()))
    assert result.exit_code == 0, result.output


# -- a damaged file -------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["sync", "runs"])
def test_a_damaged_state_file_is_named_and_left_as_it_was(client: Client, command: str) -> None:
    client.path.parent.mkdir(parents=True)
    garbage = bytes(range(256)) * 40
    client.path.write_bytes(garbage)
    config = str(client.file())

    result = _run(command, config) if command == "sync" else _run(command, "-c", config)

    _refused(result, str(client.path), "not a SQLite database", "restore it from a backup")
    assert client.path.read_bytes() == garbage


# -- a zero-length file ---------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["sync", "runs"])
def test_a_zero_length_state_file_is_refused_not_taken_for_new_state(client: Client, command: str) -> None:
    client.path.parent.mkdir(parents=True)
    client.path.write_bytes(b"")
    config = str(client.file())

    result = _run(command, config) if command == "sync" else _run(command, "-c", config)

    _refused(result, str(client.path), "empty (0 bytes)", "delete it to start with new state")
    assert client.path.stat().st_size == 0  # still empty: not turned into a new database


def test_a_new_state_file_is_never_left_empty_between_creation_and_schema(tmp_path: Path) -> None:
    # Another process starting at the same moment must see no file or a database, never zero bytes.
    seen: list[int] = []
    path = tmp_path / "new.db"

    def look(*_: Any) -> None:
        if path.exists():
            seen.append(path.stat().st_size)

    event.listen(Engine, "connect", look)
    try:
        Store(f"sqlite:///{path}").close()
    finally:
        event.remove(Engine, "connect", look)
    assert seen
    assert 0 not in seen


# -- disk full ------------------------------------------------------------------------------------------
@pytest.fixture
def full_disk() -> Iterator[None]:
    """Every SQLite connection opened meanwhile may not grow its database by a page."""

    def no_room(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count={max(pages, 1)}")
        cur.close()

    event.listen(Engine, "connect", no_room)
    yield
    event.remove(Engine, "connect", no_room)


def test_a_full_disk_while_creating_the_store_is_named(client: Client, full_disk: None) -> None:
    result = _run("sync", str(client.file()))

    _refused(result, str(client.path), "disk is full", "free some space")


def test_a_full_disk_in_mid_sync_fails_the_run_with_what_to_do(tmp_path: Path) -> None:
    client = Client(tmp_path, people=400)
    try:
        Store(f"sqlite:///{client.path}").close()  # the schema fits; the members will not
        event.listen(Engine, "connect", _limit_growth)
        try:
            result = _run("sync", str(client.file()))
        finally:
            event.remove(Engine, "connect", _limit_growth)
        _refused(result, "failed", "disk is full", "free some space")
    finally:
        client.close()


def _limit_growth(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    pages = cur.execute("PRAGMA page_count").fetchone()[0]
    cur.execute(f"PRAGMA max_page_count={pages + 2}")
    cur.close()


def test_a_full_disk_on_a_write_raises_a_state_store_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(f"sqlite:///{path}")
    try:
        event.listen(store.engine, "connect", _limit_growth)
        store.engine.dispose()  # new connections, limited
        with pytest.raises(StateStoreError, match="disk is full") as caught:
            store.add_persons([f"p{i}@example.com" for i in range(5000)], datetime.now(UTC))
        assert str(path) in str(caught.value)
    finally:
        store.close()


# -- read-only ------------------------------------------------------------------------------------------
def test_the_read_only_commands_work_on_a_store_they_cannot_write(client: Client) -> None:
    _sync_ok(client)
    before = client.path.read_bytes()
    config = str(client.read_only_file())

    runs = _run("runs", "-c", config, "--json")
    conflicts = _run("conflicts", "-c", config)
    explained = _run("explain", "p0@example.com", "-c", config)

    assert runs.exit_code == 0, runs.output
    assert '"status": "ok"' in runs.output
    assert conflicts.exit_code == 0, conflicts.output
    assert explained.exit_code == 0, explained.output
    assert "webinar" in explained.output
    assert client.path.read_bytes() == before


@contextmanager
def _read_only_file_system(directory: Path) -> Iterator[None]:
    """``directory`` made a read-only file system (a read-only bind mount of itself) while inside: what a
    user who may not write there sees, even root. Skips the test where mounting is not allowed."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    bind = subprocess.run(["mount", "--bind", str(directory), str(directory)], capture_output=True, check=False)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bind.stderr.decode(errors='replace').strip()}")
    try:
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], capture_output=True, check=False)
        if remount.returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def test_the_read_only_commands_work_in_a_directory_nobody_may_write(client: Client) -> None:
    _sync_ok(client)
    config = str(client.file())
    # A cleanly closed WAL database: reading it needs a -shm file beside it, which cannot be made there.
    assert sorted(p.name for p in client.path.parent.iterdir()) == ["acme.db"]

    with _read_only_file_system(client.path.parent):
        runs = _run("runs", "-c", config, "--json")
        explained = _run("explain", "p0@example.com", "-c", config)
        synced = _run("sync", config)

    assert runs.exit_code == 0, runs.output
    assert '"status": "ok"' in runs.output
    assert explained.exit_code == 0, explained.output
    assert "webinar" in explained.output
    _refused(synced, str(client.path), "cannot be opened")


def test_sync_on_a_read_only_store_says_it_cannot_write(client: Client) -> None:
    _sync_ok(client)

    result = _run("sync", str(client.read_only_file()))

    _refused(result, str(client.path), "cannot be written", "write access")


def test_a_read_only_command_on_an_older_schema_says_what_to_do(client: Client) -> None:
    _sync_ok(client)
    engine = create_engine(f"sqlite:///{client.path}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    engine.dispose()

    result = _run("runs", "-c", str(client.read_only_file()))

    _refused(result, str(client.path), "older than this campaign-bridge", "run sync or plan once")


def test_a_read_only_command_creates_no_state(client: Client) -> None:
    result = _run("runs", "-c", str(client.file()))

    _refused(result, str(client.path), "there is no state file here")
    assert not client.path.parent.exists()


# -- the directory, the schema, the server --------------------------------------------------------------
def test_a_state_directory_that_cannot_be_made_is_named(client: Client) -> None:
    client.path.parent.write_text("not a directory", encoding="utf-8")

    result = _run("sync", str(client.file()))

    _refused(result, str(client.path.parent), "is a file, not a directory")


def test_a_store_written_by_a_newer_campaign_bridge_is_refused(client: Client) -> None:
    _sync_ok(client)
    engine = create_engine(f"sqlite:///{client.path}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()

    for result in (_run("sync", str(client.file())), _run("runs", "-c", str(client.read_only_file()))):
        _refused(result, str(client.path), "newer campaign-bridge", "upgrade campaign-bridge")


def test_an_unreachable_postgresql_is_named_without_its_password(client: Client) -> None:
    # Port 1 on the loopback: nothing listens, the connection is refused at once.
    url = "postgresql+psycopg://bridge:hunter2-do-not-print@127.0.0.1:1/state?connect_timeout=5"

    result = _run("sync", str(client.file(url)))

    _refused(result, "postgresql+psycopg://bridge:***@127.0.0.1:1/state", "cannot be reached")
    assert "hunter2" not in result.output
