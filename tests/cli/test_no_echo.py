"""A problem in the client file names the field and FILE:LINE, never a value from the environment or of a
secret field (a token written as a number included)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from campaign_bridge.cli import main

CLIENT = """client: acme
connections:
  sf:
    type: salesforce
    instance_url: ${SF_URL}
    auth: {method: session, session_id: "${SF_SESSION}"}
  hs:
    type: hubspot
    auth: {method: private_app, token: 8675309123456}
rules:
  - name: webinar
    from: {connection: sf, campaign: Webinar}
    to: {connection: hs, list: Nurture}
    schedule: {every: "${EVERY}"}
"""

ENV = {"SF_URL": "ftp://Intranet-Host-7f3a", "SF_SESSION": "00Dsession-7f3a", "EVERY": "Weekly-7f3a"}


def test_a_problem_names_the_field_and_line_but_not_the_value(tmp_path: Path) -> None:
    config = tmp_path / "client.yaml"
    config.write_text(CLIENT, encoding="utf-8")

    result = CliRunner().invoke(main, ["validate", "--offline", str(config)], env=ENV)

    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert any(line.startswith(f"{config}:5: connections.sf.instance_url: ") for line in lines), lines
    assert any(line.startswith(f"{config}:9: connections.hs.auth.token: ") for line in lines), lines
    assert any(line.startswith(f"{config}:14: rule 'webinar' schedule.every: '${{EVERY}}' ") for line in lines), lines
    assert "8675309123456" not in result.output
    assert "7f3a" not in result.output.lower()
