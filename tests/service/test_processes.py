"""`campaign-bridge serve` as real processes: signals, and two workers sharing one PostgreSQL state store.

Time is real here (processes cannot share a fake clock), so the tests wait for *events* (a log line, a
number of runs in the store) with a generous deadline, and assert only what happened, never how fast.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from campaign_bridge.config.models import MIN_EVERY_ENV
from tests.service.helpers import Client

DEADLINE = 60.0


class Serve:
    """One `serve` process, its JSON log lines read from a file as they come."""

    def __init__(self, config: Path, log: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._stderr = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "campaign_bridge.cli", "serve", str(config), "--port", "0", "--log-json", *extra],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env={**os.environ, **(env or {})},
        )

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.log.read_text().splitlines():
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError:
                out.append({"message": raw, "unparsed": True})
        return out

    def wait_for(self, what: Callable[[dict[str, Any]], bool], label: str) -> dict[str, Any]:
        give_up = time.monotonic() + DEADLINE
        while time.monotonic() < give_up:
            for line in self.lines():
                if what(line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no log line {label!r}; the process wrote:\n{self.log.read_text()}")

    def url(self) -> str:
        return str(self.wait_for(lambda line: "url" in line, "serving")["url"])

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self) -> int:
        try:
            return self.proc.wait(timeout=DEADLINE)
        finally:
            self._stderr.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def _health(url: str) -> tuple[int, dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as answer:
        return answer.status, json.loads(answer.read())


def test_sighup_reloads_a_valid_file_refuses_an_invalid_one_and_sigterm_stops(client: Client) -> None:
    client.campaign("Webinar", 2)
    client.campaign("Pricing", 2, start=10)
    client.ma_list("Nurture")
    client.ma_list("Sales")
    webinar = {"name": "webinar", "campaign": "Webinar", "list": "Nurture", "schedule": "every: 1h"}
    pricing = {"name": "pricing", "campaign": "Pricing", "list": "Sales", "schedule": "every: 1h"}
    config = client.write([webinar])
    serve = Serve(config, client.tmp / "serve.log", "--reconcile-cron", "off")
    try:
        url = serve.url()
        assert set(_health(url)[1]["clients"]["acme"]["jobs"]) == {"sync:webinar"}

        config.write_text(config.read_text().replace("every: 1h", "every: whenever"))
        serve.signal(signal.SIGHUP)
        serve.wait_for(lambda line: "reload refused;" in line["message"], "reload refused")
        status, health = _health(url)
        assert status == 200
        assert set(health["clients"]["acme"]["jobs"]) == {"sync:webinar"}

        # A hostile file (9 levels of 9 aliases: it used to exhaust memory and take serve down) is refused
        # the same way, and every schedule keeps running.
        good = client.write([webinar]).read_text()
        bomb = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)
        )
        config.write_text(good + bomb)
        serve.signal(signal.SIGHUP)
        serve.wait_for(lambda line: "alias" in line["message"] and "reload refused" in line["message"], "bomb refused")
        status, health = _health(url)
        assert status == 200
        assert set(health["clients"]["acme"]["jobs"]) == {"sync:webinar"}

        client.write([webinar, pricing])
        serve.signal(signal.SIGHUP)
        serve.wait_for(lambda line: line["message"].startswith("reloaded"), "reloaded")
        assert set(_health(url)[1]["clients"]["acme"]["jobs"]) == {"sync:webinar", "sync:pricing"}

        serve.signal(signal.SIGTERM)
        assert serve.finish() == 0
        assert serve.lines()[-1]["message"] == "stopped"
    finally:
        serve.kill()


@pytest.fixture
def postgres_state(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL server."""
    admin: Engine = request.getfixturevalue("_postgres_admin")
    name = f"t_{uuid.uuid4().hex[:16]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
def test_two_serve_processes_on_one_postgres_store_run_each_fire_time_exactly_once(
    tmp_path: Path, postgres_state: str
) -> None:
    client = Client(tmp_path, postgres_state)
    client.campaign("Webinar", 3)
    client.ma_list("Nurture")
    config = client.write([{"name": "webinar", "campaign": "Webinar", "list": "Nurture", "schedule": "every: 1s"}])
    # Fire times a second apart, so two processes race for several in a few seconds: the floor of a
    # minute is lowered for this test, as a staging deployment may lower it.
    fast = {MIN_EVERY_ENV: "1s"}
    workers = [Serve(config, tmp_path / f"serve-{i}.log", "--reconcile-cron", "off", env=fast) for i in range(2)]
    try:
        for w in workers:
            w.url()
        give_up = time.monotonic() + DEADLINE
        while len([r for r in client.runs() if r["finished_at"]]) < 4 and time.monotonic() < give_up:
            time.sleep(0.1)
        for w in workers:
            w.signal(signal.SIGTERM)
        assert [w.finish() for w in workers] == [0, 0]
    finally:
        for w in workers:
            w.kill()

    runs = client.runs()
    assert len(runs) >= 4
    assert all(r["status"] == "ok" for r in runs), runs
    started = [
        (i, line["fire_time"])
        for i, w in enumerate(workers)
        for line in w.lines()
        if line.get("kind") == "sync" and "started" in line["message"]
    ]
    claimed_elsewhere = [
        (i, line["fire_time"])
        for i, w in enumerate(workers)
        for line in w.lines()
        if "already run by" in line["message"]
    ]
    fire_times = [fire for _, fire in started]
    # Each fire time ran once, in one of the two processes, and every run in the store is one of them.
    assert len(fire_times) == len(set(fire_times)) == len(runs)
    # Both processes reached the same fire times: the ones one of them ran, the other found claimed.
    assert {fire for _, fire in claimed_elsewhere} & set(fire_times)
    # Never two runs of the rule at the same time.
    for a, b in combinations(runs, 2):
        assert a["finished_at"] <= b["started_at"] or b["finished_at"] <= a["started_at"], (a, b)
    # The members were added once, by the first run; later runs found nothing to do.
    assert sum(r["counts"].get("added", 0) for r in runs) == 3
