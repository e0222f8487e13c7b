"""``campaign-bridge demo --crm/--ma``: the demo runs on the pair a user picks, through each sandbox's
``DemoPart`` (how it connects, how it names the demo's containers, which demo rules it cannot run)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import campaign_bridge.demo
from campaign_bridge.cli import main
from campaign_bridge.demo import Pair, demo_systems, run_demo
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sandbox.registry import discover
from campaign_bridge.sandbox.spec import SandboxSpec


def test_an_unknown_system_is_refused_with_the_choices_and_nothing_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--dir", str(folder), "--ma", "nope"])
    assert result.exit_code == 2
    assert "cannot run on 'nope' as its MA" in result.output
    assert "hubspot" in result.output  # the choices
    assert not folder.exists()


def test_a_crm_is_refused_as_the_ma_side(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "d"), "--ma", "salesforce"])
    assert result.exit_code == 2
    assert "choose one of" in result.output
    assert "salesforce" in demo_systems(Role.CRM)


def test_a_folder_written_for_another_pair_is_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "demo.yaml").write_text(
        "client: demo\nconnections:\n  a: {type: salesforce}\n  b: {type: marketo}\nrules: []\n"
    )
    result = CliRunner().invoke(main, ["demo", "--dir", str(folder)])
    assert result.exit_code == 2
    assert "holds the demo for marketo + salesforce" in result.output
    assert "--dir" in result.output


def test_another_pair_has_its_own_default_folder() -> None:
    assert Pair().default_folder() == Path("campaign-bridge-demo")
    assert Pair("salesforce", "marketo").default_folder() == Path("campaign-bridge-demo-salesforce-marketo")


def _with_hubspot_part(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    """The registered sandboxes, HubSpot's ``DemoPart`` changed as a new system would declare its own."""
    specs: list[SandboxSpec[Any]] = []
    for spec in discover():
        if spec.name == "hubspot":
            assert spec.demo is not None
            spec = dataclasses.replace(spec, demo=dataclasses.replace(spec.demo, **changes))
        specs.append(spec)
    monkeypatch.setattr(campaign_bridge.demo, "discover", lambda: specs)


def test_a_rule_the_system_cannot_run_is_left_out_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_hubspot_part(monkeypatch, cannot={"bounces-to-crm": "it keeps no bounce counts"})
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", progress=lines.append)
    assert result["left_out"] == {"bounces-to-crm": "HubSpot: it keeps no bounce counts"}
    assert "bounces-to-crm" not in [r["rule"] for r in result["runs"]]
    assert "bounces-to-crm" not in Path(result["config"]).read_text()
    assert "left out: bounces-to-crm: HubSpot: it keeps no bounce counts" in lines
    assert all(r["status"] == "ok" for r in result["runs"])


def test_a_system_names_the_demo_containers_in_its_own_terms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As a system whose list of that name is called otherwise would: the rewritten endpoint is what runs.
    def endpoint(written: dict[str, Any]) -> dict[str, Any]:
        return {"list": "Clicked a marketing email"} if written.get("list") == "Webinar Q4 nurture" else written

    _with_hubspot_part(monkeypatch, endpoint=endpoint)
    folder = tmp_path / "demo"
    result = run_demo(folder)
    rules = {r["name"]: r for r in yaml.safe_load((folder / "demo.yaml").read_text())["rules"]}
    assert rules["webinar-to-nurture"]["to"] == {"connection": "hs", "list": "Clicked a marketing email"}
    # That list is computed by HubSpot: the rule's run says so, as validate would.
    [webinar] = [r for r in result["runs"] if r["rule"] == "webinar-to-nurture"]
    assert webinar["status"] == "failed"
    assert "Clicked a marketing email" in webinar["message"]
