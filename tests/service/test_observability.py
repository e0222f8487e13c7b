"""What an operator sees: /healthz, /metrics after a run, and log lines that name client, rule and run."""

from __future__ import annotations

import io
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from campaign_bridge.service import Service, logs
from campaign_bridge.service.http import HealthServer
from tests.service.helpers import Client, FakeClock, at


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    logs.configure(as_json=True, stream=stream)
    yield stream
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_healthz_and_metrics_report_the_run(client: Client, log_lines: io.StringIO) -> None:
    client.campaign("Webinar", 3, no_email=1)
    client.ma_list("Nurture")
    client.write([{"name": "webinar", "campaign": "Webinar", "list": "Nurture", "schedule": "every: 1m"}])
    clock = FakeClock(at("00:00:10"))
    service = Service([str(client.config_path)], clock=clock, reconcile_cron=None)
    service.start(paused=True)
    server = HealthServer(service, "127.0.0.1", 0)
    server.start()
    try:
        status, body = _get(f"{server.url}/healthz")
        assert status == 200
        job = json.loads(body)["clients"]["acme"]["jobs"]["sync:webinar"]
        assert job == {"next_run": "2030-01-01T00:01:00+00:00", "last": None}

        service.run_due(clock.set(at("00:01:00")))
        (run,) = client.runs()

        status, body = _get(f"{server.url}/healthz")
        job = json.loads(body)["clients"]["acme"]["jobs"]["sync:webinar"]
        assert status == 200
        assert job["next_run"] == "2030-01-01T00:02:00+00:00"
        assert job["last"]["status"] == "ok"
        assert job["last"]["run_id"] == run["id"]

        status, body = _get(f"{server.url}/metrics")
        assert status == 200
        got = _samples(body)
        rule = (("client", "acme"), ("rule", "webinar"))
        assert got[("campaign_bridge_runs_total", (*rule[:1], ("kind", "sync"), *rule[1:], ("status", "ok")))] == 1
        assert got[("campaign_bridge_changes_total", (("change", "added"), *rule))] == 3
        assert run["counts"]["conflicts"] == 1  # the member without an email
        assert got[("campaign_bridge_conflicts_total", rule)] == 1
        for connection, calls in run["api_calls"].items():
            key = (
                "campaign_bridge_api_calls_total",
                (("client", "acme"), ("connection", connection), ("rule", "webinar")),
            )
            assert got[key] == calls
        assert got[("campaign_bridge_last_success_timestamp_seconds", rule)] == at("00:01:00").timestamp()

        service.request_stop()
        status, body = _get(f"{server.url}/healthz")
        assert status == 503
        assert json.loads(body)["status"] == "stopping"
    finally:
        service.stop()
        server.stop()

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    in_run = [line for line in lines if line["rule"] == "webinar"]
    assert in_run, lines
    assert all(line["client"] == "acme" for line in in_run)
    finished = [line for line in in_run if line.get("status") == "ok"]
    assert [line["run_id"] for line in finished] == [str(run["id"])]
    assert {"time", "level", "logger", "message"} <= set(finished[0])


def test_a_restarted_service_reports_the_last_success_from_the_state_store(client: Client) -> None:
    client.campaign("Webinar", 1)
    client.ma_list("Nurture")
    client.write([{"name": "webinar", "campaign": "Webinar", "list": "Nurture", "schedule": "every: 1m"}])
    clock = FakeClock(at("00:00:10"))
    first = Service([str(client.config_path)], clock=clock, reconcile_cron=None)
    first.start(paused=True)
    first.run_due(clock.set(at("00:01:00")))
    first.stop()
    (run,) = client.runs()

    second = Service([str(client.config_path)], clock=clock, reconcile_cron=None)
    second.start(paused=True)
    try:
        value = second.metrics.registry.get_sample_value(
            "campaign_bridge_last_success_timestamp_seconds", {"client": "acme", "rule": "webinar"}
        )
        finished = run["finished_at"]
        assert value == pytest.approx(
            finished.timestamp() if finished.tzinfo else finished.replace(tzinfo=at("00:00:00").tzinfo).timestamp()
        )
    finally:
        second.stop()
