"""Known secret values, a full sync through the CLI, and a failing one: the values appear nowhere.

Not in log records (every logger, DEBUG and up), not in the CLI's output, not in error messages, not in
any file of the state database.
"""

from __future__ import annotations

import io
import logging
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.sandbox.hubspot.state import Token
from campaign_bridge.service import Service, logs
from campaign_bridge.service.http import HealthServer
from tests.reliability.bench import Bench

SF_SECRET = "SFsecret-4f1c9e0b-do-not-print"
HS_TOKEN = "pat-na1-7d3b5a90-do-not-print"


def _seed(bench: Bench, members: int) -> str:
    """Both sandboxes know the secrets; a campaign of ``members`` contacts; an empty HubSpot list (its id)."""
    sf, hs = bench.sf.state, bench.hs.state
    sf.credentials.client_secret = SF_SECRET
    hs.tokens[HS_TOKEN] = Token("private_app", None)
    camp = sf.add_campaign("Webinar")
    sf.add_campaign("Follow-up", statuses=[("Sent", False), ("Responded", True)])
    for i in range(members):
        sf.add_member(camp, sf.add_contact(f"p{i}@example.com"))
    return hs.add_list("Nurture", "MANUAL")


def _client_file(bench: Bench, tmp: Path) -> Path:
    config = tmp / "client.yaml"
    config.write_text(
        f"client: secrets\nstate: sqlite:///{tmp / 'state' / 'db.sqlite'}\n"
        + bench.connections_yaml()
        + """rules:
  - name: to-hubspot
    from: {connection: sf, campaign: Webinar}
    to: {connection: hs, list: Nurture}
    mode: mirror
  - name: to-salesforce
    from: {connection: hs, list: Nurture}
    to: {connection: sf, campaign: Follow-up, status: Responded}
    match: {create_missing: lead}
""",
        encoding="utf-8",
    )
    return config


def test_secrets_appear_in_no_log_output_message_or_state(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bench = Bench(tmp_path)
    try:
        hs = bench.hs.state
        nurture = _seed(bench, members=5)
        config = _client_file(bench, tmp_path)
        env = {**bench.environ(), "SF_CLIENT_SECRET": SF_SECRET, "HS_TOKEN": HS_TOKEN}
        runner = CliRunner()
        caplog.set_level(logging.DEBUG)

        outputs = []
        for args in (["sync", str(config)], ["sync", str(config), "--json"], ["plan", str(config), "--json"]):
            result = runner.invoke(main, args, env=env)
            outputs.append(result.output)
            assert result.exit_code == 0, result.output
        assert len(hs.list_members(nurture)) == 5

        # And when things go wrong: an error answer, a refused secret, a refused token.
        bench.sf.server.faults.configure(error_rate=1.0, error_status=403)
        outputs.append(runner.invoke(main, ["sync", str(config), "--json"], env=env).output)
        bench.sf.server.faults.configure()
        wrong = {**env, "SF_CLIENT_SECRET": SF_SECRET + "-wrong", "HS_TOKEN": HS_TOKEN + "-wrong"}
        failed = runner.invoke(main, ["sync", str(config), "--json"], env=wrong)
        outputs.append(failed.output)
        assert failed.exit_code == 1
        state = tmp_path / "state"
        outputs.append(runner.invoke(main, ["runs", "-c", str(config), "--json"], env=env).output)
        outputs.append(runner.invoke(main, ["conflicts", "-c", str(config), "--json"], env=env).output)
    finally:
        bench.close()

    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    stored = b"".join(p.read_bytes() for p in state.iterdir())
    assert stored  # the database exists and was written to
    for secret in (SF_SECRET, HS_TOKEN):
        for text in outputs:
            assert secret not in text
        assert secret not in logged
        assert secret.encode() not in stored


def test_serve_keeps_secrets_out_of_its_logs_endpoints_and_job_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scheduler pickles jobs into the state database and logs every run as JSON: neither may carry a
    # connection's settings.
    bench = Bench(tmp_path)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    logs.configure(as_json=True, stream=stream)
    pages = []
    try:
        _seed(bench, members=3)
        config = _client_file(bench, tmp_path)
        for name, value in {**bench.environ(), "SF_CLIENT_SECRET": SF_SECRET, "HS_TOKEN": HS_TOKEN}.items():
            monkeypatch.setenv(name, value)
        start = datetime(2030, 1, 1, tzinfo=UTC)
        service = Service([str(config)], clock=lambda: start, reconcile_cron=None)
        service.start(paused=True)
        server = HealthServer(service, "127.0.0.1", 0)
        server.start()
        try:
            service.run_due(start + timedelta(days=1))
            for path in ("/healthz", "/metrics"):
                with urllib.request.urlopen(server.url + path, timeout=10) as answer:
                    pages.append(answer.read().decode())
        finally:
            service.stop()
            server.stop()
    finally:
        bench.close()
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])

    assert '"status": "ok"' in stream.getvalue() or '"status":"ok"' in stream.getvalue(), stream.getvalue()
    assert "campaign_bridge_runs_total" in pages[1]
    stored = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())
    assert b"scheduler_jobs_secrets" in stored  # the job store lives in this database
    for secret in (SF_SECRET, HS_TOKEN):
        assert secret not in stream.getvalue()
        assert all(secret not in page for page in pages)
        assert secret.encode() not in stored
