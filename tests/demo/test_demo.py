"""``campaign-bridge demo`` end to end: the real connectors against the Salesforce and HubSpot sandboxes.

The module runs the demo twice on one folder, as a user would (first with ``--json``, then with the
human report), and checks what the sandboxes hold afterwards from the state the demo saved there.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.demo import run_demo, write_client_files
from campaign_bridge.sandbox.fleet import Sandboxes
from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.sandbox.hubspot.spec import DEMO_TOKEN_ENV as HS_TOKEN_ENV
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sandbox.salesforce.spec import DEMO_SECRET_ENV as SF_SECRET_ENV


@dataclass
class Demo:
    folder: Path
    first: dict[str, Any]
    second_output: str
    saved_after_first: dict[str, Any]
    saved_after_second: dict[str, Any]


def _saved(folder: Path) -> dict[str, Any]:
    """What the sandboxes hold, from the files the demo saved (ports aside: they may change)."""
    out = {}
    for name in ("salesforce.json", "hubspot.json"):
        data = json.loads((folder / name).read_text())
        data.pop("port")
        out[name] = data
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("demo") / "company"
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--dir", str(folder), "--json"])
    assert first.exit_code == 0, first.output
    after_first = _saved(folder)
    second = runner.invoke(main, ["demo", "--dir", str(folder)])
    assert second.exit_code == 0, second.output
    return Demo(folder, json.loads(first.stdout), second.stdout, after_first, _saved(folder))


def _run(result: dict[str, Any], rule: str) -> dict[str, Any]:
    return next(r for r in result["runs"] if r["rule"] == rule)


def _members(sandboxes: Sandboxes, campaign: str) -> dict[str, str]:
    """``{email: status}`` of a Salesforce campaign's live members."""
    org = sandboxes.get("salesforce", SalesforceSandbox).state
    [campaign_id] = [i for i, c in org.tables["Campaign"].items() if c["Name"] == campaign]
    out = {}
    for person, status in org.members(campaign_id).items():
        record = org.get(person)
        assert record is not None
        out[record["Email"]] = status
    return out


def test_json_output_reports_every_rule_with_its_changes_and_conflicts(demo: Demo) -> None:
    result = demo.first
    assert set(result) >= {"directory", "config", "seeded", "changes", "conflicts", "changed", "runs"}
    assert result["seeded"] is True
    assert [r["rule"] for r in result["runs"]] == [
        "webinar-to-nurture",
        "pricing-requests-to-crm",
        "bounces-to-crm",
        "gone-quiet-to-winback",
        "clickers-to-crm",
    ]
    for run in result["runs"]:
        assert run["status"] == "ok"
        assert {"counts", "conflicts", "api_calls", "changed", "changes", "planned"} <= set(run)
    assert result["changes"] == len(result["changed"])
    assert result["conflicts"] == sum(len(r["conflicts"]) for r in result["runs"])
    added = {(c["rule"], c["email"]) for c in result["changed"] if c["change"] == "added"}
    assert ("webinar-to-nurture", "ada@northwind.example") in added
    assert ("pricing-requests-to-crm", "new.buyer@globex.example") in added
    created = {c["email"] for c in result["changed"] if c["change"] == "created"}
    assert "new.buyer@globex.example" in created  # a lead made for someone Salesforce did not know


def test_first_run_fills_the_targets_as_the_rules_say(demo: Demo) -> None:
    with Sandboxes(demo.folder) as sandboxes:
        portal = sandboxes.get("hubspot", HubSpotSandbox).state
        nurture = next(h for h in portal.lists.live() if h.name == "Webinar Q4 nurture")
        emails = {portal.get_contact(str(i))["email"] for i in portal.list_members(str(nurture.id))}
        # Registered and Attended only (Edsger was only invited); Margaret through her converted lead.
        assert emails == {
            "ada@northwind.example",
            "grace@contoso.example",
            "alan@fabrikam.example",
            "barbara@litware.example",
            "margaret@hooli.example",
        }
        assert _members(sandboxes, "Pricing interest 2026") == {
            "ken@umbrella.example": "Sent",  # added by hand: left alone
            "linus@initech.example": "Responded",
            "new.buyer@globex.example": "Responded",
        }
        assert _members(sandboxes, "Email health 2026") == {
            "bounced@initech.example": "Bounced",
            "soft@hooli.example": "Bounced",
        }
        assert _members(sandboxes, "Win-back 2026") == {"quiet@litware.example": "Gone quiet"}
        # The DYNAMIC list works as a source.
        assert _members(sandboxes, "Email engagement 2026") == {
            "ada@northwind.example": "Clicked",
            "grace@contoso.example": "Clicked",
            "new.buyer@globex.example": "Clicked",
        }
        org = sandboxes.get("salesforce", SalesforceSandbox).state
        linus = [r for r in org.tables["Contact"].values() if r["Email"] == "linus@initech.example"]
        pricing = next(i for i, c in org.tables["Campaign"].items() if c["Name"].startswith("Pricing"))
        assert linus[0]["Id"] in org.members(pricing)  # the Contact, not the duplicate Lead


def test_first_run_logs_the_expected_conflicts(demo: Demo) -> None:
    logged = {(r["rule"], c["kind"], c["email"]) for r in demo.first["runs"] for c in r["conflicts"]}
    assert logged == {
        ("webinar-to-nurture", "lead_converted", "margaret@hooli.example"),
        ("pricing-requests-to-crm", "ambiguous_identity", "linus@initech.example"),
        ("pricing-requests-to-crm", "rejected_record", "bad address@globex.example"),
        ("bounces-to-crm", "unmatched_person", "gone@wayne.example"),
    }
    rejected = next(c for r in demo.first["runs"] for c in r["conflicts"] if c["kind"] == "rejected_record")
    assert "INVALID_EMAIL_ADDRESS" in rejected["detail"]


def test_second_run_changes_nothing_and_spends_few_calls(demo: Demo) -> None:
    assert "0 changes applied" in demo.second_output
    assert "Nothing to change." in demo.second_output
    assert "reusing the demo company" in demo.second_output
    assert demo.saved_after_second == demo.saved_after_first  # not one record touched in either system
    calls = {"sf": 0, "hs": 0}
    for line in demo.second_output.splitlines():
        if line.strip().startswith("API calls:"):
            for part in line.split(":", 1)[1].split(";")[0].split(","):
                name, _, count = part.strip().partition("=")
                calls[name] += int(count)
    first = {"sf": 0, "hs": 0}
    for run in demo.first["runs"]:
        for name, count in run["api_calls"].items():
            first[name] += count
    # Reads only: a login, the containers and the source; no lookups, no writes.
    assert calls["sf"] <= 13
    assert calls["hs"] <= 8
    assert calls["sf"] < first["sf"]
    assert calls["hs"] < first["hs"]


def test_client_file_names_secrets_as_environment_references(demo: Demo) -> None:
    text = (demo.folder / "demo.yaml").read_text()
    env = (demo.folder / "demo.env").read_text()
    secret = next(line.split("=", 1)[1] for line in env.splitlines() if line.startswith(SF_SECRET_ENV))
    assert f"${{{SF_SECRET_ENV}}}" in text
    assert f"${{{HS_TOKEN_ENV}}}" in text
    assert secret not in text
    assert "campaign-bridge sandbox serve --state" in text  # how to run it again by hand


def test_validate_refuses_the_dynamic_list_as_a_target_with_the_reason(demo: Demo, tmp_path: Path) -> None:
    with Sandboxes(demo.folder) as sandboxes:
        config, environ = write_client_files(tmp_path, sandboxes)
        text = config.read_text() + (
            "  - name: nurture-to-clickers\n"
            '    from: {connection: sf, campaign: "Webinar 2026-Q4"}\n'
            '    to:   {connection: hs, list: "Clicked a marketing email"}\n'
        )
        config.write_text(text)
        result = CliRunner().invoke(main, ["validate", str(config)], env=environ)
    assert result.exit_code == 2
    assert "nurture-to-clickers" in result.stderr
    assert "cannot write to 'Clicked a marketing email'" in result.stderr
    assert "DYNAMIC" in result.stderr or "dynamic" in result.stderr


def test_a_later_run_keeps_the_users_edits_to_the_rules(demo: Demo, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(demo.folder, folder)
    config = folder / "demo.yaml"
    text = config.read_text().replace(str(demo.folder.resolve()), str(folder.resolve()))  # its own state file
    start = text.index("  # MA → CRM: a list the MA system computes")
    config.write_text(text[:start])  # the user drops the last rule
    result = run_demo(folder)
    assert [r["rule"] for r in result["runs"]] == [
        "webinar-to-nurture",
        "pricing-requests-to-crm",
        "bounces-to-crm",
        "gone-quiet-to-winback",
    ]
    assert result["changes"] == 0
    assert "clickers-to-crm" not in config.read_text()
