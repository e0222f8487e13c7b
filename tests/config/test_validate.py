"""`campaign-bridge validate`: every problem, located, in one go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.config.loader import load_config_text
from campaign_bridge.errors import ConfigError

FIVE_MISTAKES = """\
client: acme
connections:
  crm: {type: memory-crm, store: v1}
  ma:
    type: memory-ma
    stroe: v1
rules:
  - name: one
    from: {connection: crm, campaign: Webinar}
    to: {connection: mma, list: Nurture}
  - name: two
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Other}
    mode: mirorr
  - name: three
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Third}
    shedule: {every: 5m}
  - name: four
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Fourth}
    schedule: {every: 5x}
"""


def _validate(tmp_path: Path, text: str, *args: str) -> tuple[int, str]:
    path = tmp_path / "client.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["validate", str(path), "--offline", *args])
    return result.exit_code, result.output


def test_five_mistakes_five_located_lines(tmp_path: Path) -> None:
    code, output = _validate(tmp_path, FIVE_MISTAKES)
    lines = [ln for ln in output.splitlines() if ln.startswith(str(tmp_path))]
    assert code == 2
    assert len(lines) == 5, output
    by_line = {ln.split(":")[1]: ln for ln in lines}
    assert "unknown key 'stroe' in connections.ma; did you mean 'store'?" in by_line["6"]
    assert "unknown connection 'mma'; did you mean 'ma'?" in by_line["10"]
    assert "mirorr" in by_line["14"]
    assert "unknown key 'shedule' in rule 'three'; did you mean 'schedule'?" in by_line["18"]
    assert "'5x' is not a duration" in by_line["22"]


def test_a_rule_with_two_mistakes_gets_both_at_once(tmp_path: Path) -> None:
    # The misspelt mode makes the rule invalid; its misspelt connection must still be named, not
    # discovered only after the first fix.
    text = FIVE_MISTAKES.replace(
        "from: {connection: crm, campaign: Webinar}\n    to: {connection: ma, list: Other}",
        "from: {connection: crmm, campaign: Webinar}\n    to: {connection: ma, list: Other}",
    )
    code, output = _validate(tmp_path, text)
    assert code == 2
    assert "unknown connection 'crmm'; did you mean 'crm'?" in output
    assert "mirorr" in output


def test_valid_file_exits_zero(tmp_path: Path) -> None:
    code, output = _validate(tmp_path, FIVE_MISTAKES.split("rules:")[0].replace("stroe", "store") + "rules: []\n")
    assert code == 0, output
    assert "valid" in output


def test_unset_environment_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CB_TEST_UNSET", raising=False)
    text = "client: x\nstate: ${CB_TEST_UNSET}\nconnections: {}\n"
    code, output = _validate(tmp_path, text)
    assert code == 2
    assert ":2: environment variable CB_TEST_UNSET is not set" in output


def test_rule_cycle_refused() -> None:
    text = """
client: x
connections:
  crm: {type: memory-crm}
  ma: {type: memory-ma}
rules:
  - {name: a, from: {connection: crm, campaign: C}, to: {connection: ma, list: L}}
  - {name: b, from: {connection: ma, list: L}, to: {connection: crm, campaign: C, status: Sent}}
"""
    with pytest.raises(ConfigError, match="rule cycle: a → b → a"):
        load_config_text(text, "c.yaml")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("{connection: ma, campaign: Newsletter, status: x}", "has no member status"),
        ("{connection: crm, campaign: C}", "needs 'status'"),
        ("{connection: ma, segment: {field: score, gte: 5}}", "a segment can only be a source"),
    ],
)
def test_targets_that_cannot_hold_membership_are_explained(target: str, reason: str) -> None:
    text = f"""
client: x
connections:
  crm: {{type: memory-crm}}
  ma: {{type: memory-ma}}
rules:
  - {{name: a, from: {{connection: crm, campaign: S}}, to: {target}}}
"""
    with pytest.raises(ConfigError, match=reason):
        load_config_text(text, "c.yaml")


def test_dynamic_list_target_refused_by_live_validate(tmp_path: Path) -> None:
    from campaign_bridge.connectors.memory.data import drop_memory_store, memory_store
    from campaign_bridge.mapping.model import ContainerKind

    data = memory_store("validate-live")
    try:
        data.add_container("Engaged", ContainerKind.DYNAMIC_LIST)
        crm = memory_store("validate-live-crm")
        crm.add_container("S", ContainerKind.CAMPAIGN, [("Sent", False)])
        path = tmp_path / "c.yaml"
        path.write_text(f"""
client: x
state: sqlite:///{tmp_path / "s.db"}
connections:
  crm: {{type: memory-crm, store: validate-live-crm}}
  ma: {{type: memory-ma, store: validate-live}}
rules:
  - {{name: a, from: {{connection: crm, campaign: S}}, to: {{connection: ma, list: Engaged}}}}
""")
        result = CliRunner().invoke(main, ["validate", str(path)])
        assert result.exit_code == 2
        assert f"{path}:8: rule 'a' to: cannot write to 'Engaged'" in result.output
        assert "use it as a rule's source" in result.output
    finally:
        drop_memory_store("validate-live")
        drop_memory_store("validate-live-crm")


def test_schema_is_json_schema_for_editors() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"client", "connections", "rules"} <= set(schema["properties"])
