"""A seeded Salesforce ⇄ HubSpot scenario through the real connectors, real client libraries and real HTTP.

Two rules: Salesforce campaign "Webinar" → HubSpot list "Nurture" (restore manual removals), and HubSpot list
"Pricing" → Salesforce campaign "Pricing interest" with status Responded (respect manual removals, create
missing people as leads). After both sync, people and admins change things behind their back; ``reconcile``
must find each kind of drift and ``--repair`` fix exactly the right ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.reconciler import Action, FindingKind, ReconcileReport, run_reconcile
from campaign_bridge.sync.client import open_client
from campaign_bridge.sync.engine import Engine
from tests.contract.harness_hubspot import HubSpotHarness
from tests.contract.harness_memory import FakeClock
from tests.contract.harness_salesforce import SalesforceHarness

STATUSES = [("Sent", False), ("Responded", True), ("Attended", True)]


@pytest.fixture
def sf() -> Iterator[SalesforceHarness]:
    h = SalesforceHarness()
    yield h
    h.close()


@pytest.fixture
def hs() -> Iterator[HubSpotHarness]:
    h = HubSpotHarness()
    yield h
    h.close()


def _config(sf: SalesforceHarness, hs: HubSpotHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ClientConfig:
    creds = sf.sandbox.credentials
    monkeypatch.setenv("SF_CLIENT_ID", creds["client_id"])
    monkeypatch.setenv("SF_CLIENT_SECRET", creds["client_secret"])
    monkeypatch.setenv("HUBSPOT_TOKEN", hs.sb.token)
    text = f"""
client: scenario
state: sqlite:///{tmp_path / "state.db"}
connections:
  sf:
    type: salesforce
    instance_url: {sf.sandbox.instance_url}
    login_url: {sf.sandbox.instance_url}
    ca_bundle: {sf.sandbox.ca_bundle}
    auth: {{method: client_credentials, client_id: "${{SF_CLIENT_ID}}", client_secret: "${{SF_CLIENT_SECRET}}"}}
  hs:
    type: hubspot
    base_url: {hs.sb.url}
    auth: {{method: private_app, token: "${{HUBSPOT_TOKEN}}"}}
rules:
  - name: webinar-to-nurture
    from: {{connection: sf, campaign: Webinar}}
    to: {{connection: hs, list: Nurture}}
    on_manual_removal: restore
  - name: pricing-to-sf
    from: {{connection: hs, list: Pricing}}
    to: {{connection: sf, campaign: Pricing interest, status: Responded}}
    match: {{create_missing: lead}}
    on_manual_removal: respect
"""
    return load_config_text(text, "scenario.yaml")


def _sync(config: ClientConfig, clock: FakeClock) -> None:
    with open_client(config) as client:
        engine = Engine(config, client.store, client.connectors, clock=clock)
        for rule in ("webinar-to-nurture", "pricing-to-sf"):
            assert engine.sync(rule).status == "ok"
    clock.tick(60)


def _member_id(sf: SalesforceHarness, campaign: str, person: str) -> str:
    state = sf.state
    table = state.tables["CampaignMember"]
    for member_id in state.lookup("CampaignMember", "CampaignId", campaign):
        m = table[member_id]
        if not m["IsDeleted"] and person in (m.get("LeadId"), m.get("ContactId")):
            return str(member_id)
    raise AssertionError(f"{person} is not a member of {campaign}")


def _lead(sf: SalesforceHarness, email: str) -> str:
    leads = [r for r in sf.state.tables["Lead"].values() if r.get("Email") == email and not r.get("IsDeleted")]
    assert len(leads) == 1
    return str(leads[0]["Id"])


def _hs_contact(hs: HubSpotHarness, email: str) -> str:
    found = hs.sb.state.find_contact(email)
    assert found is not None, f"the sync made no HubSpot contact for {email}"
    return found


def _found(report: ReconcileReport) -> dict[tuple[str, str | None], Any]:
    return {(f.kind.value, f.email): f.action for f in report.findings}


def test_reconcile_finds_each_kind_of_drift_and_repair_fixes_exactly_the_right_ones(
    sf: SalesforceHarness, hs: HubSpotHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # -- seed and sync ------------------------------------------------------------------------------
    webinar = sf.state.add_campaign("Webinar")
    pricing = sf.state.add_campaign("Pricing interest", statuses=STATUSES)
    people = {e: sf.state.add_contact(f"{e}@acme.example") for e in ("ann", "bob", "cat", "dan")}
    people["fay"] = sf.state.add_lead("fay@acme.example")
    for person in people.values():
        sf.state.add_member(webinar, person)
    nurture, pricing_list = hs.sb.state.add_list("Nurture"), hs.sb.state.add_list("Pricing")
    hs.sb.state.add_list_members(pricing_list, [hs.sb.state.add_contact(f"p{i}@buyer.example") for i in range(1, 5)])
    config = _config(sf, hs, tmp_path, monkeypatch)
    clock = FakeClock()
    _sync(config, clock)
    hs_id = {e: _hs_contact(hs, f"{e}@acme.example") for e in people}
    assert len(hs.sb.state.list_members(nurture)) == 5
    assert len(sf.state.members(pricing)) == 4

    # -- drift, behind the rules' back ------------------------------------------------------------
    hs.sb.state.remove_list_members(nurture, [hs_id["ann"]])  # missing (restore)
    stranger = hs.sb.state.add_contact("stranger@else.example")
    hs.sb.state.add_list_members(nurture, [stranger])  # unowned
    hs.sb.state.archive_contact(str(hs_id["bob"]))  # stale: the target record was deleted
    sf.state.convert_lead(people["fay"])  # stale: the source record was converted
    sf.state.remove_member(_member_id(sf, webinar, people["cat"]))  # cat leaves the campaign…
    hs.sb.state.remove_list_members(nurture, [hs_id["cat"]])  # …and the list: an orphan ledger row
    sf.state.remove_member(_member_id(sf, pricing, _lead(sf, "p1@buyer.example")))  # missing (respect)
    sf.state.set_member_status(_member_id(sf, pricing, _lead(sf, "p2@buyer.example")), "Sent")  # lowered
    sf.state.set_member_status(_member_id(sf, pricing, _lead(sf, "p3@buyer.example")), "Attended")  # raised
    p4_contact = sf.state.convert_lead(_lead(sf, "p4@buyer.example"))  # stale: the target lead was converted
    walk_in = sf.state.add_contact("walk-in@else.example")
    sf.state.add_member(pricing, walk_in, "Attended")  # unowned
    sf.tick(60)
    hs.tick(60)

    # -- reconcile: report only --------------------------------------------------------------------
    nurture_report = run_reconcile(config, "webinar-to-nurture", clock=clock)
    pricing_report = run_reconcile(config, "pricing-to-sf", clock=clock)

    assert set(_found(nurture_report)) == {
        ("missing", "ann@acme.example"),
        ("unowned", "stranger@else.example"),
        ("stale_identity", "bob@acme.example"),
        ("stale_identity", "fay@acme.example"),
        ("orphan_ledger_row", "cat@acme.example"),
    }
    stale = {f.email: f.detail for f in nurture_report.of(FindingKind.STALE_IDENTITY)}
    assert "was converted into sf:Contact:" in stale["fay@acme.example"]
    assert "was deleted in hs:Nurture" in stale["bob@acme.example"]
    assert set(_found(pricing_report)) == {
        ("missing", "p1@buyer.example"),
        ("status_mismatch", "p2@buyer.example"),
        ("status_mismatch", "p3@buyer.example"),
        ("stale_identity", "p4@buyer.example"),
        ("unowned", "walk-in@else.example"),
    }
    assert nurture_report.status == pricing_report.status == "drift"
    assert hs_id["ann"] not in hs.sb.state.list_members(nurture)  # a report writes nothing

    # -- reconcile --repair ------------------------------------------------------------------------
    nurture_fix = run_reconcile(config, "webinar-to-nurture", repair=True, clock=clock)
    pricing_fix = run_reconcile(config, "pricing-to-sf", repair=True, clock=clock)

    assert _found(nurture_fix) == {
        ("missing", "ann@acme.example"): Action.RESTORED,
        ("unowned", "stranger@else.example"): Action.NONE,
        ("stale_identity", "bob@acme.example"): Action.FORGOTTEN,
        ("stale_identity", "fay@acme.example"): Action.REPOINTED,
        ("orphan_ledger_row", "cat@acme.example"): Action.FORGOTTEN,
    }
    assert _found(pricing_fix) == {
        ("missing", "p1@buyer.example"): Action.RESPECTED,
        ("status_mismatch", "p2@buyer.example"): Action.STATUS_RAISED,
        ("status_mismatch", "p3@buyer.example"): Action.STATUS_ADOPTED,
        ("stale_identity", "p4@buyer.example"): Action.REPOINTED,
        ("unowned", "walk-in@else.example"): Action.NONE,
    }
    assert nurture_fix.status == pricing_fix.status == "repaired"
    # HubSpot: ann is back; the stranger and the archived bob were not touched; cat stays out.
    assert hs.sb.state.list_members(nurture) == {hs_id["ann"], hs_id["bob"], hs_id["dan"], hs_id["fay"], stranger}
    # Salesforce: p1 stays out (respected), p2 raised, p3 kept above the rule's status, the walk-in untouched.
    assert sf.state.members(pricing) == {
        _lead(sf, "p2@buyer.example"): "Responded",
        _lead(sf, "p3@buyer.example"): "Attended",
        p4_contact: "Responded",
        walk_in: "Attended",
    }
    with open_client(config) as client:
        p4_row = next(r for r in client.store.ledger("pricing-to-sf").values() if r.target_record_id == p4_contact)
        assert (p4_row.target_kind, p4_row.state) == ("Contact", "present")

    # -- afterwards: nothing left to repair, and the next syncs keep the repairs -------------------------
    assert run_reconcile(config, "webinar-to-nurture", clock=clock).drift == []
    assert run_reconcile(config, "pricing-to-sf", clock=clock).drift == []
    _sync(config, clock)
    assert _lead(sf, "p1@buyer.example") not in sf.state.members(pricing)
    assert stranger in hs.sb.state.list_members(nurture)
    assert walk_in in sf.state.members(pricing)
    assert {f.kind for f in run_reconcile(config, "pricing-to-sf", clock=clock).findings} == {FindingKind.UNOWNED}
