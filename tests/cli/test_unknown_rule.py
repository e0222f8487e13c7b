"""``--rule`` naming a rule the file lacks: every command that runs rules says so, as a configuration
problem (exit 2, the near name suggested), and nothing runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main


@pytest.mark.parametrize("command", ["sync", "plan", "reconcile"])
def test_an_unknown_rule_is_a_config_problem_not_a_traceback(tmp_path: Path, command: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"""\
client: x
state: sqlite:///{tmp_path / "s.db"}
connections:
  crm: {{type: memory-crm, store: unknown-rule-crm}}
  ma: {{type: memory-ma, store: unknown-rule-ma}}
rules:
  - {{name: webinar-to-nurture, from: {{connection: crm, campaign: Webinar}}, to: {{connection: ma, list: Nurture}}}}
""")
    result = CliRunner().invoke(main, [command, str(path), "--rule", "webinar-to-nurtur"])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip() == f"{path}: no rule named 'webinar-to-nurtur'; did you mean 'webinar-to-nurture'?"
    assert not (tmp_path / "s.db").exists()  # nothing ran: no state store was even opened
