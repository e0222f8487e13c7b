"""Alerts raised by real scheduled runs (``serve``, in process, on the memory connectors), delivered to a
local webhook and a local SMTP server: each kind, once per change, resolved when it clears, and no secret
in what is sent, logged or stored."""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.connectors.memory import MemoryCRM, MemoryMA
from campaign_bridge.connectors.memory.data import MemoryData, memory_store
from campaign_bridge.errors import QuotaExhaustedError, TransientError
from campaign_bridge.service import Service
from campaign_bridge.service.jobs import RECONCILE, SYNC
from campaign_bridge.sync.store.store import Store
from tests.alerts.conftest import HOOK_PASSWORD, alerts_section, assert_no_secret, assert_received_cleanly
from tests.alerts.receivers import Smtp, Webhook
from tests.service.helpers import Client, FakeClock, at

pytestmark = pytest.mark.usefixtures("alert_env")


@contextmanager
def serving(client: Client, clock: FakeClock, reconcile_cron: str | None = None) -> Iterator[Service]:
    service = Service([str(client.config_path)], clock=clock, reconcile_cron=reconcile_cron)
    service.start(paused=True)
    try:
        yield service
    finally:
        service.stop()


def live_crm(client: Client) -> MemoryData:
    return memory_store(client.crm_name, client.crm_path)


def webinar(client: Client, alerts: str, defaults: str = "", schedule: str = "every: 1m") -> str:
    """A campaign of three, an MA list, and one rule between them (every minute); the campaign's id."""
    cid = client.campaign("Webinar", 3)
    client.ma_list("Nurture")
    client.write(
        [{"name": "webinar", "campaign": "Webinar", "list": "Nurture", "schedule": schedule}], defaults + alerts
    )
    return cid


class Minutes:
    """Fire times, a minute apart, from 00:01."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.n = clock, 0

    def next(self) -> datetime:
        self.n += 1
        return self.clock.set(at(f"00:{self.n:02d}:00"))


def messages(hook: Webhook) -> list[dict[str, Any]]:
    return [r.json for r in hook.requests]


def texts(smtp: Smtp) -> list[str]:
    """Each e-mail's plain-text part."""
    out = []
    for m in smtp.box.messages:
        for part in m.walk():
            if part.get_content_type() == "text/plain":
                out.append(part.get_payload(decode=True).decode())
    return out


def see_commands_run(message: str) -> None:
    """Each command an alert's ``see:`` line names is one the command line accepts as written (the ones that
    read are run; the ones that write are only parsed)."""
    [line] = [x for x in message.splitlines() if x.startswith("see: ")]
    for command in line.removeprefix("see: ").replace("; to repair:", ";").replace("; then", ";").split(";"):
        words = shlex.split(command)
        assert words[0] == "campaign-bridge"
        if words[1] in ("retry", "reconcile", "sync"):  # they write: only their options are checked
            words.append("--help")
        result = CliRunner().invoke(main, words[1:])
        assert "Error:" not in result.output, (command, result.output)  # click's: no such option, missing…
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def product_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line but the test SMTP server's own (which logs the login it receives, as a server may)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))


def state_file(client: Client) -> bytes:
    store = Store(client.state_url)
    store.close()
    return b"".join(p.read_bytes() for p in client.tmp.glob("state.db*"))


def test_a_rule_failing_runs_in_a_row_is_told_once_per_error_then_resolved(
    client: Client, hook: Webhook, smtp: Smtp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    webinar(client, alerts_section(hook, smtp, failed_runs=2))
    errors: list[str] = []
    real = MemoryCRM.read_members

    def read(self: MemoryCRM, *args: Any, **kwargs: Any) -> Any:
        if errors:
            raise TransientError(errors[0])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MemoryCRM, "read_members", read)
    clock = FakeClock(at("00:00:30"))
    minutes = Minutes(clock)
    with serving(client, clock) as service:
        # The source answers 503: one failure is no alert.
        errors.append("the CRM answered 503 for run 1")
        service.run_due(minutes.next())
        assert hook.requests == []

        errors[0] = "the CRM answered 503 for run 2"
        service.run_due(minutes.next())
        [alert] = messages(hook)
        assert alert["type"] == "failure"
        assert alert["title"] == "campaign-bridge: rule failing (acme / webinar)"
        body = alert["message"]
        assert "client: acme\nrule: webinar\n" in body
        assert "failed its last 2 sync runs in a row; the last one said: the CRM answered 503 for run 2" in body
        assert f"see: campaign-bridge runs -c {client.config_path} --rule webinar" in body
        see_commands_run(body)
        assert smtp.box.subjects() == [alert["title"]]
        assert "rule: webinar" in texts(smtp)[0]

        # The same failure again (its numbers aside): not told again.
        errors[0] = "the CRM answered 503 for run 3"
        service.run_due(minutes.next())
        assert len(hook.requests) == 1

        # A different failure is a new alert.
        errors[0] = "the CRM refused the login"
        service.run_due(minutes.next())
        assert len(hook.requests) == 2
        assert "the last one said: the CRM refused the login" in messages(hook)[1]["message"]

        errors.clear()
        service.run_due(minutes.next())
        resolved = messages(hook)[2]
        assert resolved["type"] == "success"
        assert resolved["title"] == "resolved: campaign-bridge: rule failing (acme / webinar)"
        assert "resolved: a sync run ended ok" in resolved["message"]
        assert len(smtp.box.messages) == 3

        service.run_due(minutes.next())  # resolved is told once too
        assert len(hook.requests) == 3

    assert [r["status"] for r in client.runs()] == ["failed"] * 4 + ["ok"] * 2
    assert_received_cleanly(hook, smtp)
    assert_no_secret(product_log(caplog), "the log")
    assert_no_secret(state_file(client), "the state store")


def test_a_held_plan_is_told_until_a_run_applies_its_plan(client: Client, hook: Webhook) -> None:
    cid = webinar(client, alerts_section(hook), defaults="defaults: {mode: mirror, safety: {max_removals: 1}}\n")
    clock = FakeClock(at("00:00:30"))
    minutes = Minutes(clock)
    with serving(client, clock) as service:
        service.run_due(minutes.next())
        assert hook.requests == []  # three added: nothing to tell

        crm = live_crm(client)
        for email in ("p0@example.com", "p1@example.com"):
            crm.remove_member(cid, crm.person_id(email))
        service.run_due(minutes.next())
        service.run_due(minutes.next())  # held again: not told again
        [held] = messages(hook)
        assert held["title"] == "campaign-bridge: plan held by its safety limit (acme / webinar)"
        assert "removals held, not applied: the plan removes 2 members, more than max_removals=1" in held["message"]
        assert f"see: campaign-bridge plan {client.config_path} --rule webinar" in held["message"]
        see_commands_run(held["message"])

        # The person comes back to the campaign: one removal, under the limit, applied.
        crm.add_member(cid, crm.person_id("p1@example.com"))
        service.run_due(minutes.next())
        assert [m["type"] for m in messages(hook)] == ["warning", "success"]
        assert "resolved: a sync run applied its plan (ok)" in messages(hook)[1]["message"]
    assert [r["status"] for r in client.runs()] == ["ok", "held", "held", "ok"]
    assert_received_cleanly(hook)


def test_dead_letters_are_told_when_they_grow_and_resolved_when_none_are_left(
    client: Client, hook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = webinar(client, alerts_section(hook), defaults="defaults: {max_attempts: 2}\n")
    real = MemoryMA.apply_changes
    down = [True]

    def apply(self: MemoryMA, *args: Any, **kwargs: Any) -> Any:
        if down:
            raise TransientError("the MA system answered 503")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MemoryMA, "apply_changes", apply)
    clock = FakeClock(at("00:00:30"))
    minutes = Minutes(clock)
    with serving(client, clock) as service:
        service.run_due(minutes.next())  # three adds failed once: retried next run
        assert hook.requests == []
        service.run_due(minutes.next())  # failed twice: dead letters
        service.run_due(minutes.next())  # nothing new
        [first] = messages(hook)
        assert first["title"] == "campaign-bridge: dead letters grew (acme / webinar)"
        assert "3 changes gave up after their last attempt (dead letters)" in first["message"]
        assert (
            f"campaign-bridge conflicts -c {client.config_path} --rule webinar --kind dead_letter" in first["message"]
        )

        crm = live_crm(client)
        crm.add_member(cid, crm.add_person("late@example.com", "Contact"))
        client.live_ma().add_person("late@example.com", "Contact")
        service.run_due(minutes.next())
        service.run_due(minutes.next())
        assert len(hook.requests) == 2
        assert "4 changes gave up" in messages(hook)[1]["message"]

        down.clear()
        store = Store(client.state_url)
        assert store.requeue("webinar") == 4  # what `campaign-bridge retry` does
        store.close()
        service.run_due(minutes.next())
        assert len(hook.requests) == 3
        assert messages(hook)[2]["title"] == "resolved: campaign-bridge: dead letters grew (acme / webinar)"
        assert "resolved: no dead letters are left" in messages(hook)[2]["message"]
    assert len(client.live_ma().members(client.live_ma().container_id("Nurture"))) == 4


def test_drift_found_by_the_nightly_reconcile_is_told_once_and_resolved(client: Client, hook: Webhook) -> None:
    webinar(client, alerts_section(hook), schedule="every: 1h")
    clock = FakeClock(at("00:00:30"))
    with serving(client, clock) as service:
        # The job runner, called as the scheduler calls it, for the fire times of a sync and three nights.
        service.run("acme", "webinar", SYNC, clock.set(at("00:01:00")))
        ma = client.live_ma()
        nurture, p0 = ma.container_id("Nurture"), ma.person_id("p0@example.com")
        ma.remove_member(nurture, p0)  # someone removes a member the rule added, by hand

        for night in ("00:10:00", "00:20:00"):
            service.run("acme", "webinar", RECONCILE, clock.set(at(night)))
            service.alerts.drain()
        [drift] = messages(hook)
        assert drift["title"] == "campaign-bridge: drift found (acme / webinar)"
        assert "the reconcile found the target changed behind the rule's back (missing: 1)" in drift["message"]
        assert f"campaign-bridge reconcile {client.config_path} --rule webinar --repair" in drift["message"]
        see_commands_run(drift["message"])

        ma.add_member(nurture, p0)
        service.run("acme", "webinar", RECONCILE, clock.set(at("00:30:00")))
        service.alerts.drain()
        assert [m["type"] for m in messages(hook)] == ["warning", "success"]
        assert "resolved: a reconcile found no drift" in messages(hook)[1]["message"]
    assert [r["status"] for r in client.runs("reconcile")] == ["drift", "drift", "ok"]
    assert_received_cleanly(hook)


KILLED_WORKER = """
import os, signal, sys
from campaign_bridge.config.loader import load_config
from campaign_bridge.sync.client import open_client
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import RunReport

config = load_config(sys.argv[1])
with open_client(config) as client:
    engine = Engine(config, client.store, client.connectors)
    # the run takes the rule's lease and opens its runs row, then the worker is killed mid-run
    engine.scope.run(RunReport("webinar", "sync"), lambda now: os.kill(os.getpid(), signal.SIGKILL))
"""


def test_a_lease_taken_over_from_a_killed_worker_is_told_once(client: Client, hook: Webhook) -> None:
    webinar(client, alerts_section(hook))
    worker = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER, str(client.config_path)],
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
        capture_output=True,
        check=False,
    )
    assert worker.returncode == -9, worker.stderr.decode()
    clock = FakeClock(at("00:00:30"))
    minutes = Minutes(clock)
    with serving(client, clock) as service:
        service.run_due(minutes.next())
        service.run_due(minutes.next())
        [takeover] = messages(hook)
    dead, *ok = client.runs()
    assert dead["status"] == "failed"
    assert [r["status"] for r in ok] == ["ok", "ok"]  # the first run took the dead worker's lease at once
    assert takeover["title"] == "campaign-bridge: worker died; its lease was taken over (acme / webinar)"
    assert f"the worker of sync run {dead['id']} stopped (killed or crashed)" in takeover["message"]
    assert takeover["type"] == "failure"


def test_a_target_that_cannot_be_reached_is_sent_the_alert_after_the_next_run_and_the_runs_go_on(
    client: Client,
    hook: Webhook,
    smtp: Smtp,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    webinar(client, alerts_section(hook, smtp, failed_runs=1))
    monkeypatch.setattr(MemoryCRM, "read_members", _refuse)
    hook.failing = True
    clock = FakeClock(at("00:00:30"))
    minutes = Minutes(clock)
    with serving(client, clock) as service:
        service.run_due(minutes.next())
        assert len(smtp.box.messages) == 1  # the mail arrived; the webhook answered 503
        assert len(hook.requests) >= 1
        assert "alert not delivered to target 1 (JSON)" in caplog.text
        failed = _alert_rows(client)[0]
        assert failed["attempts"] == 1
        assert "target 1 (JSON)" in failed["last_error"]
        [shown] = _status(client)
        assert (shown["kind"], shown["rule"], shown["state"]) == ("failed_runs", "webinar", "firing")
        assert (shown["told"], shown["not_told"]) == (["target 2 (E-Mail)"], ["target 1 (JSON)"])
        assert "error=503" in shown["last_error"]

        hook.failing = False
        tried = len(hook.requests)
        service.run_due(minutes.next())  # the same failure: nothing new, but the webhook is owed one
        assert len(hook.requests) == tried + 1
        assert messages(hook)[-1]["title"] == "campaign-bridge: rule failing (acme / webinar)"
        assert len(smtp.box.messages) == 1  # not sent twice to the target that had it
        assert _alert_rows(client)[0]["attempts"] == 0
        assert _status(client)[0]["told"] == ["target 1 (JSON)", "target 2 (E-Mail)"]
    assert [r["status"] for r in client.runs()] == ["failed", "failed"]
    assert_received_cleanly(hook, smtp)
    assert_no_secret(product_log(caplog), "the log")


def test_no_alerts_section_sends_nothing_and_stores_nothing(client: Client, hook: Webhook) -> None:
    webinar(client, "")
    clock = FakeClock(at("00:00:30"))
    with serving(client, clock) as service:
        service.run_due(clock.set(at("00:01:00")))
    assert hook.requests == []
    assert _alert_rows(client) == []


def _refuse(self: MemoryCRM, *args: Any, **kwargs: Any) -> Any:
    raise TransientError("the CRM answered 503")


def _status(client: Client) -> list[dict[str, Any]]:
    """What ``campaign-bridge alerts status FILE --json`` shows."""
    result = CliRunner().invoke(main, ["alerts", "status", str(client.config_path), "--json"])
    assert result.exit_code == 0, result.output
    assert_no_secret(result.output, "alerts status")
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


def _alert_rows(client: Client) -> list[dict[str, Any]]:
    store = Store(client.state_url)
    try:
        return [
            {"kind": s.kind, "attempts": s.attempts, "last_error": s.last_error, "delivered": s.delivered}
            for s in store.alert_states("acme").values()
        ]
    finally:
        store.close()


def test_state_rows_hold_digests_and_texts_only(client: Client, hook: Webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    webinar(client, alerts_section(hook, failed_runs=1))
    monkeypatch.setattr(MemoryCRM, "read_members", _refuse)
    clock = FakeClock(at("00:00:30"))
    with serving(client, clock) as service:
        service.run_due(clock.set(at("00:01:00")))
    [row] = _alert_rows(client)
    assert row["kind"] == "failed_runs"
    assert list(row["delivered"].values()) == ["the CRM answered #"]
    assert all(len(k) == 16 for k in row["delivered"])  # a digest of the URL, never the URL
    assert str(hook.port) not in json.dumps(row)


def test_a_run_message_quoting_a_secret_reaches_no_alert_and_no_alert_state(
    client: Client, hook: Webhook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A careless source error quoting a secret of the file: the alert, its state row and the alerts' and
    Apprise's log lines carry it masked."""
    caplog.set_level(logging.DEBUG)
    webinar(client, alerts_section(hook, failed_runs=1))

    def careless(self: MemoryCRM, *args: Any, **kwargs: Any) -> Any:
        raise TransientError(f"the CRM refused key {HOOK_PASSWORD}")

    monkeypatch.setattr(MemoryCRM, "read_members", careless)
    clock = FakeClock(at("00:00:30"))
    with serving(client, clock) as service:
        service.run_due(clock.set(at("00:01:00")))
    [alert] = messages(hook)
    assert "the last one said: the CRM refused key ****" in alert["message"]
    assert_received_cleanly(hook)
    store = Store(client.state_url)
    try:
        assert_no_secret(repr(store.alert_states("acme")), "the alert state")
    finally:
        store.close()
    ours = [
        r.getMessage() for r in caplog.records if r.name.startswith(("campaign_bridge.alerts", "apprise", "urllib3"))
    ]
    assert ours
    assert_no_secret("\n".join(ours), "the alerts' log lines")


def test_a_run_stopped_by_a_quota_neither_breaks_nor_extends_a_failing_streak(
    client: Client, hook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    webinar(client, alerts_section(hook, failed_runs=2))
    answers: list[Exception] = [
        TransientError("the CRM answered 503"),
        QuotaExhaustedError("crm: the daily API limit is reached"),
        TransientError("the CRM answered 503"),
    ]

    def read(self: MemoryCRM, *args: Any, **kwargs: Any) -> Any:
        raise answers.pop(0)

    monkeypatch.setattr(MemoryCRM, "read_members", read)
    clock = FakeClock(at("00:00:30"))
    minutes = Minutes(clock)
    with serving(client, clock) as service:
        for _ in range(2):
            service.run_due(minutes.next())
        assert hook.requests == []
        service.run_due(minutes.next())
        [alert] = messages(hook)
    assert [r["status"] for r in client.runs()] == ["failed", "stopped", "failed"]
    assert "failed its last 2 sync runs in a row" in alert["message"]


def test_an_apprise_that_raises_breaks_no_run_and_the_alert_goes_out_after_the_next_one(
    client: Client, hook: Webhook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import apprise

    webinar(client, alerts_section(hook, failed_runs=1))
    monkeypatch.setattr(MemoryCRM, "read_members", _refuse)
    real = apprise.Apprise.notify

    def broken(self: apprise.Apprise, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in a notification plugin")

    monkeypatch.setattr(apprise.Apprise, "notify", broken)
    clock = FakeClock(at("00:00:30"))
    minutes = Minutes(clock)
    with serving(client, clock) as service:
        service.run_due(minutes.next())
        assert hook.requests == []
        assert "alert not delivered to target 1 (JSON): Apprise raised RuntimeError" in caplog.text
        monkeypatch.setattr(apprise.Apprise, "notify", real)
        service.run_due(minutes.next())
        assert hook.titles() == ["campaign-bridge: rule failing (acme / webinar)"]
        assert service.health()[0]
    assert [r["status"] for r in client.runs()] == ["failed", "failed"]
