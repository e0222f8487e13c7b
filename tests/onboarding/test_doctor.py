"""``campaign-bridge doctor``: each check against the sandboxes, each problem with what to do, exit 1."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.config.loader import load_config
from campaign_bridge.connectors.discovery import Allowance, Need
from campaign_bridge.connectors.memory import MemorySettings
from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import Container
from campaign_bridge.onboarding.doctor import LOW_ALLOWANCE, Status, _allowance, diagnose, diagnose_connection
from tests.onboarding.conftest import Plain, Site


def _findings(result: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def _only(findings: list[dict[str, Any]], connection: str, check: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["connection"] == connection and f["check"] == check]


def test_the_demo_passes_every_check_the_systems_can_answer(restore: Site) -> None:
    result = restore.run("doctor", str(restore.config), "--json")
    assert result.exit_code == 0, result.output
    findings = _findings(result)
    assert not [f for f in findings if f["status"] == "problem"]
    access = _only(findings, "sf", "access")
    assert any(f["detail"].startswith("add members (for pricing-requests-to-crm") for f in access)
    assert any("CampaignMember: Create granted" in f["detail"] for f in access)
    assert any("scope crm.lists.write granted" in f["detail"] for f in _only(findings, "hs", "access"))
    [sf_allowance] = _only(findings, "sf", "allowance")
    assert "GET /limits" in sf_allowance["detail"]
    assert _only(findings, "sf", "clock")[0]["status"] == "ok"
    assert findings[-1]["check"] == "state"
    for secret in restore.environ.values():
        assert secret not in result.output
    assert findings[-1]["status"] == "ok"


def test_a_revoked_campaign_member_permission_is_a_problem_naming_the_rules_and_the_fix(restore: Site) -> None:
    restore.salesforce.state.revoked["CampaignMember"] = {"createable", "deletable"}
    result = restore.run("doctor", str(restore.config), "--json")
    assert result.exit_code == 1
    problems = [f for f in _findings(result) if f["status"] == "problem"]
    assert {(f["connection"], f["detail"].split(" (")[0]) for f in problems} == {
        ("sf", "add members"),
        ("sf", "remove members"),
    }
    add = next(f for f in problems if f["detail"].startswith("add members"))
    assert "CampaignMember: Create not granted" in add["detail"]
    assert "Edit granted" in add["detail"]
    assert "bounces-to-crm" in add["detail"]
    assert "'Create' on CampaignMember" in add["fix"]


def test_a_missing_hubspot_scope_is_a_problem_with_where_to_tick_it(restore: Site) -> None:
    restore.hubspot.state.scopes = ["crm.objects.contacts.read", "crm.lists.read"]
    result = restore.run("doctor", str(restore.config), "--json")
    assert result.exit_code == 1
    problems = [f for f in _findings(result) if f["status"] == "problem"]
    # add and remove members (crm.lists.write), create contacts (crm.objects.contacts.write)
    assert [f["detail"].split(" (")[0] for f in problems] == ["add members", "remove members", "create people"]
    assert "scope crm.lists.write not granted to the private app's token" in problems[0]["detail"]
    assert "Private Apps" in problems[0]["fix"]
    table = restore.run("doctor", str(restore.config))
    assert "3 problems" in table.stdout


def test_the_hubspot_daily_allowance_is_read_from_its_headers(restore: Site) -> None:
    restore.hubspot.state.limits.daily = 250_000
    [allowance] = _only(_findings(restore.run("doctor", str(restore.config), "--json")), "hs", "allowance")
    assert allowance["status"] == "ok"
    assert "of 250,000 API calls left" in allowance["detail"]


def test_a_spent_salesforce_allowance_is_a_problem_and_the_run_stops_cleanly(restore: Site) -> None:
    state = restore.salesforce.state
    state.set_daily_limit(state.api_usage)
    try:
        result = restore.run("doctor", str(restore.config), "--json")
    finally:
        state.set_daily_limit(None)
    assert result.exit_code == 1
    problems = [f for f in _findings(result) if f["status"] == "problem"]
    assert [(f["connection"], f["check"]) for f in problems] == [("sf", "allowance")]
    assert "allowance resets" in problems[0]["fix"]


def test_low_allowance_threshold() -> None:
    low = _allowance("sf", Allowance(used=95_000, limit=100_000, period="today", source="test"))
    assert low.status is Status.PROBLEM
    assert "5,000 of 100,000" in low.detail
    fine = _allowance(
        "sf", Allowance(used=int(100_000 * (1 - LOW_ALLOWANCE)) - 1, limit=100_000, period="t", source="t")
    )
    assert fine.status is Status.OK


def test_a_clock_off_by_minutes_is_a_problem(site: Site) -> None:
    config = load_config(site.config, environ=site.environ)
    connectors = {name: build_connector(name, settings) for name, settings in config.connections.items()}
    late = lambda: datetime.now(UTC) - timedelta(minutes=5)  # noqa: E731 - this machine's clock, 5 minutes slow
    try:
        findings = diagnose(config, connectors, clock=late)
        spent = {name: conn.usage().by_endpoint for name, conn in connectors.items()}
    finally:
        for conn in connectors.values():
            conn.close()
    # What doctor costs: login, campaigns, describeGlobal and limits; lists search and token info (and a
    # second lists search: the sandbox sends no daily headers unless its daily limit is on); then one more
    # listing each for the rules' live checks.
    assert spent["sf"] == {"oauth2/token": 1, "query": 2, "sobjects": 1, "limits": 1}
    assert spent["hs"] == {"lists.search": 3, "oauth.private_app_token_info": 1}
    clocks = [f for f in findings if f.check == "clock"]
    assert [f.status for f in clocks] == [Status.PROBLEM, Status.PROBLEM]
    # The Date header counts whole seconds: five minutes, give or take one.
    assert re.fullmatch(r"the server's clock is (299|300|301) s ahead of this machine's", clocks[0].detail)
    assert "NTP" in clocks[0].fix


def test_wrong_credentials_are_a_problem_and_nothing_else_is_asked(site: Site) -> None:
    environ = {**site.environ, "CB_DEMO_SF_CLIENT_SECRET": "not-the-secret"}
    result = CliRunner().invoke(main, ["doctor", str(site.config), "--json"], env=environ)
    assert result.exit_code == 1
    sf = [f for f in _findings(result) if f["connection"] == "sf"]
    assert [(f["check"], f["status"]) for f in sf] == [("credentials", "problem")]
    assert "credentials" in sf[0]["fix"]
    assert "not-the-secret" not in result.output


def test_an_unset_secret_is_named_with_its_line(site: Site) -> None:
    environ = {k: v for k, v in site.environ.items() if k != "CB_DEMO_HS_TOKEN"}
    result = CliRunner().invoke(main, ["doctor", str(site.config)], env={**environ, "CB_DEMO_HS_TOKEN": None})  # type: ignore[dict-item]
    assert result.exit_code == 2
    assert "environment variable CB_DEMO_HS_TOKEN is not set" in result.output


def test_a_new_state_store_is_created_and_migrated(site: Site, tmp_path: Any) -> None:
    text = site.config.read_text().replace(str(site.folder / "state.db"), str(tmp_path / "fresh.db"))
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(text)
    result = site.run("doctor", str(fresh), "--json")
    [state] = [f for f in _findings(result) if f["check"] == "state"]
    assert state["status"] == "ok"
    assert "created or upgraded" in state["detail"]
    assert (tmp_path / "fresh.db").exists()


def test_an_unreachable_state_store_is_a_problem(site: Site, tmp_path: Any) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    text = site.config.read_text().replace(str(site.folder / "state.db"), str(blocked / "state.db"))
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    result = site.run("doctor", str(broken), "--json")
    assert result.exit_code == 1
    [state] = [f for f in _findings(result) if f["check"] == "state"]
    assert state["status"] == "problem"


def test_a_connector_without_the_protocol_is_checked_for_credentials_and_its_needs_listed() -> None:
    conn = Plain("crm", MemorySettings(type="memory-crm"))
    needs = {Need.WRITE_MEMBERS: ["to-expo"]}
    findings = diagnose_connection(conn, needs, clock=lambda: datetime.now(UTC))
    assert [(f.check, f.status) for f in findings] == [
        ("credentials", Status.OK),
        ("access", Status.UNKNOWN),
        ("allowance", Status.UNKNOWN),
        ("clock", Status.UNKNOWN),
    ]
    assert "add members (for to-expo)" in findings[1].detail


def test_an_oauth_app_is_checked_through_its_token_info(restore: Site, tmp_path: Any) -> None:
    oauth = restore.info()["hubspot"]["auth"]["oauth"]
    data = yaml.safe_load(restore.config.read_text())
    data["connections"]["hs"]["auth"] = {
        "method": "oauth",
        "client_id": oauth["client_id"],
        "client_secret": "${HS_OAUTH_SECRET}",
        "refresh_token": "${HS_REFRESH}",
    }
    path = tmp_path / "oauth.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    environ = {**restore.environ, "HS_OAUTH_SECRET": oauth["client_secret"], "HS_REFRESH": oauth["refresh_token"]}
    restore.hubspot.state.scopes = ["crm.objects.contacts.read", "crm.objects.contacts.write", "crm.lists.read"]
    result = CliRunner().invoke(main, ["doctor", str(path), "--json"], env=environ)
    assert result.exit_code == 1
    hs = [f for f in _findings(result) if f["connection"] == "hs"]
    problems = [f for f in hs if f["status"] == "problem"]
    assert [f["detail"].split(" (")[0] for f in problems] == ["add members", "remove members"]
    assert "not granted to the OAuth app's token" in problems[0]["detail"]
    assert "install it again" in problems[0]["fix"]
    [allowance] = [f for f in hs if f["check"] == "allowance"]
    assert allowance["status"] == "unknown"


class _Down(Plain):
    def list_containers(self) -> Sequence[Container]:
        raise TransientError("crm: connection refused")


def test_a_system_that_cannot_be_reached_is_a_problem_saying_so() -> None:
    [finding] = diagnose_connection(
        _Down("crm", MemorySettings(type="memory-crm")), {}, clock=lambda: datetime.now(UTC)
    )
    assert finding.status is Status.PROBLEM
    assert finding.detail == "could not reach the system: crm: connection refused"
    assert "that the system is up" in finding.fix


def test_a_rule_naming_a_campaign_the_org_lacks_is_a_problem(site: Site, tmp_path: Any) -> None:
    text = site.config.read_text().replace("campaign: Win-back 2026", "campaign: Winback 2026")
    assert "Winback 2026" in text
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    result = site.run("doctor", str(path), "--json")
    assert result.exit_code == 1
    [problem] = [f for f in _findings(result) if f["status"] == "problem"]
    assert problem["check"] == "rules"
    assert "no campaign named 'Winback 2026'; did you mean 'Win-back 2026'" in problem["detail"]
    assert problem["fix"].startswith("campaign-bridge discover ")
