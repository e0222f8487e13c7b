"""The ``runs`` record keeps its worker; the runs of workers that died are closed as failed, on both backends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from campaign_bridge.sync.store.base import aware
from campaign_bridge.sync.store.runs import DEAD_WORKER, dead_on_this_host
from campaign_bridge.sync.store.states import RunStatus
from campaign_bridge.sync.store.store import Store

HOST = socket.gethostname()


def _gone_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_runs_of_workers_whose_process_is_gone_are_closed_as_failed(store_url: str) -> None:
    store = Store(store_url)
    try:
        started = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        dead = store.start_run("acme", "web", "sync", started, holder=f"{HOST}:{_gone_pid()}:dead0001")
        alive = store.start_run("acme", "web", "sync", started, holder=f"{HOST}:{os.getpid()}:alive001")
        elsewhere = store.start_run("acme", "crm", "sync", started, holder=f"not-{HOST}:{_gone_pid()}:away0001")
        unknown = store.start_run("acme", "crm", "sync", started)  # no holder: written before 0005
        done = store.start_run("acme", "web", "sync", started, holder=f"{HOST}:{_gone_pid()}:done0001")
        store.finish_run(done, status=RunStatus.OK, finished_at=started)
        now = started + timedelta(hours=1)

        closed = store.fail_dead_runs(now)

        assert closed == [dead]
        rows = {r["id"]: r for r in store.runs()}
        assert (rows[dead]["status"], rows[dead]["error"]) == ("failed", DEAD_WORKER)
        assert aware(rows[dead]["finished_at"]) == now  # SQLite gives dates back without their zone
        assert DEAD_WORKER == "the worker stopped (killed or crashed) before the run finished"
        for still in (alive, elsewhere, unknown):
            assert (rows[still]["status"], rows[still]["error"]) == ("running", None)
        assert rows[done]["status"] == "ok"
        assert rows[alive]["holder"] == f"{HOST}:{os.getpid()}:alive001"
        assert store.fail_dead_runs(now) == []  # nothing left to close
    finally:
        store.close()


def test_who_is_dead_can_be_decided_by_the_caller(store_url: str) -> None:
    store = Store(store_url)
    try:
        now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        a = store.start_run("acme", "web", "sync", now, holder="worker-a")
        store.start_run("acme", "web", "sync", now, holder="worker-b")

        assert store.fail_dead_runs(now, is_dead=lambda holder: holder == "worker-a") == [a]
    finally:
        store.close()


def test_a_holder_is_dead_only_on_this_host_with_its_process_gone() -> None:
    gone = _gone_pid()
    assert dead_on_this_host(f"{HOST}:{gone}:x")
    assert not dead_on_this_host(f"{HOST}:{os.getpid()}:x")
    assert not dead_on_this_host(f"not-{HOST}:{gone}:x")
    assert not dead_on_this_host("some-holder")
