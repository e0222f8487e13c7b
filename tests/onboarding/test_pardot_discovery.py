"""``discover`` and ``doctor`` on a client file with an Account Engagement connection, against the Pardot
sandbox over real HTTP: its lists and campaigns with what a rule may do with each, the edition's allotment,
the server's clock, what each costs in calls, and a refused token as a problem with what to do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from campaign_bridge.cli import main
from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.discovery import Need, SupportsDiscovery
from campaign_bridge.connectors.pardot import PardotConnector
from campaign_bridge.sandbox.pardot import PardotSandbox
from tests.contract.harness_salesforce import no_wait_policy

CONFIG = """\
client: pardisc
state: sqlite:///{state}
connections:
  pd:
    type: pardot
    business_unit_id: {bu}
    base_url: {url}
    login_url: {url}
    edition: plus
    auth: {auth}
rules:
  - name: hot-to-nurture
    from: {{connection: pd, list: "Hot prospects"}}
    to:   {{connection: pd, list: "Nurture"}}
    mode: mirror
"""


@dataclass
class Unit:
    pd: PardotSandbox
    folder: Path
    environ: dict[str, str]

    def client_file(self, name: str, auth: str) -> Path:
        path = self.folder / f"{name}.yaml"
        path.write_text(
            CONFIG.format(state=self.folder / f"{name}.db", bu=self.pd.business_unit_id, url=self.pd.url, auth=auth)
        )
        return path

    @property
    def good(self) -> Path:
        client_id = self.pd.org.credentials.client_id
        return self.client_file(
            "good", f'{{method: client_credentials, client_id: {client_id}, client_secret: "${{PD_SECRET}}"}}'
        )

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=self.environ)


@pytest.fixture(scope="module")
def unit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unit]:
    with PardotSandbox(edition="plus") as pd:
        nurture = pd.state.add_list("Nurture")
        pd.state.add_list("Hot prospects", rule=lambda p: p.score >= 100)
        pd.state.add_campaign("Webinar 2026")
        pid = pd.state.add_prospect("ada@example.com", score=150)
        pd.state.add_prospect("bob@example.com", score=10)
        pd.state.add_member(nurture, pid)
        environ = {"PD_SECRET": pd.org.credentials.client_secret, "PD_TOKEN": "00Dnot-a-token!AQ"}
        yield Unit(pd, tmp_path_factory.mktemp("pardisc"), environ)


def _only(findings: list[dict[str, Any]], check: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["connection"] == "pd" and f["check"] == check]


def test_discover_lists_pardots_containers_with_source_target_and_why_and_its_calls(unit: Unit) -> None:
    result = unit.run("discover", str(unit.good), "--json")
    assert result.exit_code == 0, result.output
    [pd] = json.loads(result.stdout)
    assert (pd["name"], pd["system"], pd["error"]) == ("pd", "pardot", None)
    by_name = {c["name"]: c for c in pd["containers"]}
    assert set(by_name) == {"Nurture", "Hot prospects", "Webinar 2026", "Website Tracking"}  # the BU default
    assert (by_name["Nurture"]["kind"], by_name["Nurture"]["source"], by_name["Nurture"]["target"]) == (
        "static_list",
        True,
        True,
    )
    hot = by_name["Hot prospects"]
    assert (hot["kind"], hot["source"], hot["target"]) == ("dynamic_list", True, False)
    assert "criteria" in hot["target_why"]
    assert by_name["Webinar 2026"]["key"] == "campaign"
    # v5 counts nothing without reading the members: unknown, and no call is spent on it.
    assert all(c["members"] is None for c in pd["containers"])
    assert pd["calls_by_endpoint"] == {"login": 1, "lists": 1, "campaigns": 1}
    assert pd["calls"] == 3


def test_doctor_answers_access_allowance_and_clock_at_no_call_beyond_the_listing(unit: Unit) -> None:
    result = unit.run("doctor", str(unit.good), "--json")
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert _only(findings, "credentials")[0]["status"] == "ok"
    access = _only(findings, "access")
    assert {f["status"] for f in access} == {"unknown"}
    add = next(f for f in access if f["detail"].startswith("add members (for hot-to-nurture"))
    assert "does not list a role's abilities" in add["detail"]
    # What to give, in Account Engagement's words: the role's ability and the business unit's access.
    assert "Marketing > Segmentation > Lists > Create" in add["fix"]
    assert unit.pd.business_unit_id in add["fix"]
    [allowance] = _only(findings, "allowance")
    assert allowance["status"] == "ok"
    # The plus edition's 50,000 a day; the listing's two v5 calls are this process's count (the login is
    # Salesforce's, not the business unit's).
    assert "49,998 of 50,000 API calls left" in allowance["detail"]
    assert "only this process's calls" in allowance["detail"]
    [clock] = _only(findings, "clock")
    assert clock["status"] == "ok"
    assert "agrees with the server's" in clock["detail"]
    assert unit.environ["PD_SECRET"] not in result.output


def test_check_access_names_the_role_ability_and_the_business_unit(unit: Unit) -> None:
    config = load_config_text(unit.good.read_text(), "good.yaml", unit.environ)
    conn = PardotConnector("pd", config.connections["pd"], policy=no_wait_policy())
    try:
        assert isinstance(conn, SupportsDiscovery)
        conn.list_containers()
        calls = conn.usage().calls
        grants = conn.check_access([Need.CREATE_PEOPLE, Need.REMOVE_MEMBERS])
        assert [(g.need, g.granted) for g in grants] == [(Need.CREATE_PEOPLE, None), (Need.REMOVE_MEMBERS, None)]
        assert "Prospects > Prospects > Create" in grants[0].fix
        assert "Lists > Delete" in grants[1].fix
        assert unit.pd.business_unit_id in grants[0].fix
        assert conn.server_time() is not None
        assert conn.usage().calls == calls  # access, allowance and clock cost no call
    finally:
        conn.close()


def test_a_refused_token_makes_doctor_exit_1_with_what_to_do(unit: Unit) -> None:
    bad = unit.client_file("bad", '{method: session, session_id: "${PD_TOKEN}"}')
    result = unit.run("doctor", str(bad), "--json")
    assert result.exit_code == 1, result.output
    [credentials] = _only(json.loads(result.stdout), "credentials")
    assert credentials["status"] == "problem"
    assert "184" in credentials["detail"]
    assert "pardot_api scope" in credentials["detail"]
    assert "credentials" in credentials["fix"]
    assert unit.environ["PD_TOKEN"] not in result.output
