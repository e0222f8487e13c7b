"""``validate`` without ``--offline``: what only the systems can say, found before a run acts on it.

* a source ``member_status`` the campaign does not have used to pass; a mirror plan then removed every
  member the rule had added, since nobody qualified any more;
* a loop of rules naming one container by id in one rule and by name in another used to slip past the
  cycle check, which offline can only compare names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.connectors.memory.data import MemoryData, drop_memory_store, memory_store
from campaign_bridge.mapping.model import ContainerKind

CRM, MA = "live-validate-crm", "live-validate-ma"


@pytest.fixture
def systems() -> Iterator[tuple[MemoryData, MemoryData]]:
    crm, ma = memory_store(CRM), memory_store(MA)
    yield crm, ma
    drop_memory_store(CRM)
    drop_memory_store(MA)


def _validate(tmp_path: Path, rules: str) -> tuple[int, str, Path]:
    path = tmp_path / "c.yaml"
    path.write_text(f"""\
client: x
state: sqlite:///{tmp_path / "s.db"}
connections:
  crm: {{type: memory-crm, store: {CRM}}}
  ma: {{type: memory-ma, store: {MA}}}
rules:
{rules}""")
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.exit_code, result.output, path


def test_a_source_status_the_campaign_lacks_is_refused_with_its_real_statuses(
    systems: tuple[MemoryData, MemoryData], tmp_path: Path
) -> None:
    crm, ma = systems
    crm.add_container("Webinar", ContainerKind.CAMPAIGN, [("Sent", False), ("Attended", True)])
    ma.add_container("Nurture")
    code, output, path = _validate(
        tmp_path,
        "  - {name: a, from: {connection: crm, campaign: Webinar, member_status: [sent, Atended, Registered]},"
        " to: {connection: ma, list: Nurture}, mode: mirror}\n",
    )
    assert code == 2, output
    # 'sent' is Sent: statuses compare case-insensitively, as a run compares them.
    assert output.splitlines() == [
        f"{path}:7: rule 'a' from: 'Webinar' has no member status 'Atended'; did you mean 'Attended'? "
        "It has Sent, Attended",
        f"{path}:7: rule 'a' from: 'Webinar' has no member status 'Registered'; it has Sent, Attended",
    ]


def test_source_statuses_the_campaign_has_pass_in_any_case(
    systems: tuple[MemoryData, MemoryData], tmp_path: Path
) -> None:
    crm, ma = systems
    crm.add_container("Webinar", ContainerKind.CAMPAIGN, [("Sent", False), ("Attended", True)])
    ma.add_container("Nurture")
    code, output, _ = _validate(
        tmp_path,
        "  - {name: a, from: {connection: crm, campaign: Webinar, member_status: [ATTENDED]},"
        " to: {connection: ma, list: Nurture}}\n",
    )
    assert code == 0, output
    assert "checked file and live containers" in output


def test_a_loop_through_a_list_named_by_id_and_by_name_is_refused(
    systems: tuple[MemoryData, MemoryData], tmp_path: Path
) -> None:
    crm, ma = systems
    crm.add_container("Webinar", ContainerKind.CAMPAIGN, [("Sent", False)])
    nurture = ma.add_container("Nurture")
    code, output, path = _validate(
        tmp_path,
        f"  - {{name: a, from: {{connection: crm, campaign: Webinar}}, to: {{connection: ma, list: {nurture}}}}}\n"
        "  - {name: b, from: {connection: ma, list: Nurture}, to: {connection: crm, campaign: Webinar, status: Sent}}\n",
    )
    assert code == 2, output
    assert output.splitlines() == [
        f"{path}:7: rule cycle: a → b → a (each rule feeds the next one's source; break the loop)"
    ]


def test_a_rule_reading_and_writing_one_list_under_two_names_is_refused(
    systems: tuple[MemoryData, MemoryData], tmp_path: Path
) -> None:
    _, ma = systems
    nurture = ma.add_container("Nurture")
    code, output, path = _validate(
        tmp_path, f"  - {{name: a, from: {{connection: ma, list: Nurture}}, to: {{connection: ma, list: {nurture}}}}}\n"
    )
    assert code == 2, output
    assert f"{path}:7: rule 'a' reads and writes the same container" in output


@pytest.mark.timeout(60)
def test_hundreds_of_rules_list_each_connection_once_and_find_their_loop(
    systems: tuple[MemoryData, MemoryData], tmp_path: Path
) -> None:
    crm, ma = systems
    rules = []
    for i in range(150):
        crm.add_container(f"C{i}", ContainerKind.CAMPAIGN, [("Sent", False)])
        list_id = ma.add_container(f"L{i}")
        # out-i names its list by id, back-i by name: offline these are 300 rules in no loop at all
        rules.append(
            f"  - {{name: out-{i}, from: {{connection: crm, campaign: C{i}}}, to: {{connection: ma, list: {list_id}}}}}\n"
        )
        rules.append(
            f"  - {{name: back-{i}, from: {{connection: ma, list: L{i}}}, "
            f"to: {{connection: crm, campaign: C{(i + 1) % 150}, status: Sent}}}}\n"
        )
    calls = crm.calls, ma.calls

    code, output, path = _validate(tmp_path, "".join(rules))

    assert code == 2, output
    [problem] = output.splitlines()
    assert problem.startswith(f"{path}:7: rule cycle: out-0 → back-0 → out-1 → back-1 → ")
    assert problem.endswith("back-149 → out-0 (each rule feeds the next one's source; break the loop)")
    assert (crm.calls - calls[0], ma.calls - calls[1]) == (1, 1)  # one listing each, not one lookup per rule
