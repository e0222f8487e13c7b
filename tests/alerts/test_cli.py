"""``campaign-bridge alerts test FILE``: a test alert to every target, each named without its URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from tests.alerts.conftest import alerts_section, assert_no_secret, assert_received_cleanly
from tests.alerts.receivers import Smtp, Webhook

CLIENT = """\
client: acme
connections:
  crm: {type: memory-crm}
  ma: {type: memory-ma}
rules:
  - name: webinar
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
"""

pytestmark = pytest.mark.usefixtures("alert_env")


def _file(tmp_path: Path, alerts: str) -> str:
    path = tmp_path / "acme.yaml"
    path.write_text(CLIENT + alerts)
    return str(path)


def test_every_target_gets_the_test_alert(tmp_path: Path, hook: Webhook, smtp: Smtp) -> None:
    result = CliRunner().invoke(main, ["alerts", "test", _file(tmp_path, alerts_section(hook, smtp))])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["target 1 (JSON): delivered", "target 2 (E-Mail): delivered"]
    assert hook.titles() == ["campaign-bridge: test alert (acme)"]
    assert smtp.box.subjects() == ["campaign-bridge: test alert (acme)"]
    assert "client: acme" in hook.requests[0].json["message"]
    assert_received_cleanly(hook, smtp)


def test_a_target_that_refuses_is_named_and_the_exit_code_says_so(tmp_path: Path, hook: Webhook, smtp: Smtp) -> None:
    hook.failing = True
    file = _file(tmp_path, alerts_section(hook, smtp))
    result = CliRunner().invoke(main, ["alerts", "test", file, "--json"])
    assert result.exit_code == 1
    answers = json.loads(result.output)
    assert [(a["target"], a["delivered"]) for a in answers] == [("target 1 (JSON)", False), ("target 2 (E-Mail)", True)]
    assert "503" in answers[0]["error"]
    assert_no_secret(result.output, "the command's output")


def test_a_file_without_alerts_is_told_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["alerts", "test", _file(tmp_path, "")])
    assert result.exit_code == 2
    assert "no alerts: section" in result.output


def test_a_form_webhook_gets_the_test_alert_as_form_fields(tmp_path: Path, hook: Webhook) -> None:
    from urllib.parse import parse_qs

    alerts = f'alerts:\n  targets: ["form://cb:${{HOOK_PASSWORD}}@127.0.0.1:{hook.port}/form"]\n'
    result = CliRunner().invoke(main, ["alerts", "test", _file(tmp_path, alerts)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["target 1 (Form): delivered"]
    fields = parse_qs(hook.requests[0].body.decode())
    assert fields["title"] == ["campaign-bridge: test alert (acme)"]
    assert "client: acme" in fields["message"][0]
    assert_received_cleanly(hook)
