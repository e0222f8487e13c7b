"""Known secret values, a full sync through the CLI, and a failing one: the values appear nowhere.

Not in log records (every logger, DEBUG and up), not in the CLI's output, not in error messages, not in
any file of the state database.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.sandbox.hubspot.state import Token
from tests.reliability.bench import Bench

SF_SECRET = "SFsecret-4f1c9e0b-do-not-print"
HS_TOKEN = "pat-na1-7d3b5a90-do-not-print"


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
        sf, hs = bench.sf.state, bench.hs.state
        sf.credentials.client_secret = SF_SECRET
        hs.tokens[HS_TOKEN] = Token("private_app", None)
        camp = sf.add_campaign("Webinar")
        sf.add_campaign("Follow-up", statuses=[("Sent", False), ("Responded", True)])
        for i in range(5):
            sf.add_member(camp, sf.add_contact(f"p{i}@example.com"))
        nurture = hs.add_list("Nurture", "MANUAL")
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
