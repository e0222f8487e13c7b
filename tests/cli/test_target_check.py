"""`validate` (live) and a run refuse a target for the same reasons, in the same words.

Both go through ``sync.target``: a file that validates is one a run accepts, and a run's refusal is one
``validate`` would have shown first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.connectors.memory.data import MemoryData, drop_memory_store, memory_store
from campaign_bridge.mapping.model import ContainerKind

CRM, MA = "target-check-crm", "target-check-ma"


@pytest.fixture
def systems() -> Iterator[tuple[MemoryData, MemoryData]]:
    crm, ma = memory_store(CRM), memory_store(MA)
    crm.add_container("Webinar", ContainerKind.CAMPAIGN, [("Sent", False), ("Attended", True)])
    ma.add_container("Newsletter", ContainerKind.STATIC_LIST)
    ma.add_container("Engaged", ContainerKind.DYNAMIC_LIST)
    yield crm, ma
    drop_memory_store(CRM)
    drop_memory_store(MA)


def client_file(tmp_path: Path, target: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(f"""\
client: x
state: sqlite:///{tmp_path / "s.db"}
connections:
  crm: {{type: memory-crm, store: {CRM}}}
  ma: {{type: memory-ma, store: {MA}}}
rules:
  - {{name: a, from: {{connection: ma, list: Newsletter}}, to: {target}}}
""")
    return path


def refusals(path: Path) -> tuple[str, str]:
    """What ``validate`` and ``sync`` say about the rule's target, without the prefix each puts in front."""
    runner = CliRunner()
    validate = runner.invoke(main, ["validate", str(path)])
    assert validate.exit_code == 2, validate.output
    said = re.search(rf"^{re.escape(str(path))}:7: rule 'a' to: (.+)$", validate.stderr, re.MULTILINE)
    assert said is not None, validate.stderr
    sync = runner.invoke(main, ["sync", str(path), "--json"])
    assert sync.exit_code == 1, sync.output
    [report] = json.loads(sync.stdout)
    assert report["status"] == "failed"
    assert report["message"].startswith("rule 'a': ")
    return said.group(1), report["message"].removeprefix("rule 'a': ")


@pytest.mark.usefixtures("systems")
def test_an_unwritable_container_is_refused_alike(tmp_path: Path) -> None:
    checked, run = refusals(client_file(tmp_path, "{connection: ma, list: Engaged}"))
    assert checked == run
    assert checked.startswith("cannot write to 'Engaged': ")


@pytest.mark.usefixtures("systems")
def test_a_status_the_campaign_lacks_is_refused_alike(tmp_path: Path) -> None:
    checked, run = refusals(client_file(tmp_path, "{connection: crm, campaign: Webinar, status: Registered}"))
    assert checked == run == "'Webinar' has no member status 'Registered'; it has Sent, Attended"


@pytest.mark.usefixtures("systems")
def test_a_target_that_takes_the_rule_passes_both(tmp_path: Path) -> None:
    path = client_file(tmp_path, "{connection: crm, campaign: Webinar, status: attended}")
    runner = CliRunner()
    assert runner.invoke(main, ["validate", str(path)]).exit_code == 0
    sync = runner.invoke(main, ["sync", str(path), "--json"])
    assert sync.exit_code == 0, sync.output
    assert json.loads(sync.stdout)[0]["status"] == "ok"
