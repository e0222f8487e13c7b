"""The engine end to end with Account Engagement on one side and Salesforce on the other: both sandboxes
over real HTTP (simple-salesforce over HTTPS; plain requests to v5), the state in SQLite.

The rules the issue names: a Salesforce campaign (Registered, Attended) mirrored into a Pardot static list;
a Pardot segment (score >= 100, active in 30 days) into a Salesforce campaign with a status; and two
rules writing two Pardot campaigns for one prospect, where the exclusive policy decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.pardot import PardotConnector
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.sandbox.pardot import PardotSandbox
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.store.store import Store
from tests.contract.harness_salesforce import no_wait_policy

CONFIG = """\
client: e2e
state: sqlite:///{state}
connections:
  sf:
    type: salesforce
    instance_url: {sf_url}
    login_url: {sf_url}
    ca_bundle: {ca}
    auth: {{method: client_credentials, client_id: {sf_client}, client_secret: "${{SF_SECRET}}"}}
  pd:
    type: pardot
    business_unit_id: {bu}
    base_url: {pd_url}
    login_url: {pd_url}
    removal_campaign: Unassigned
    auth: {{method: client_credentials, client_id: {pd_client}, client_secret: "${{PD_SECRET}}"}}
rules:
  - name: webinar-to-list
    from: {{connection: sf, campaign: "Webinar", member_status: [Registered, Attended]}}
    to:   {{connection: pd, list: "Webinar nurture"}}
    mode: mirror
  - name: engaged-to-sf
    from: {{connection: pd, segment: {{all: [{{field: score, gte: 100}}, {{field: last_activity_at, within: 30d}}]}}}}
    to:   {{connection: sf, campaign: "Engaged 2026", status: Responded}}
    match: {{prefer: contact, create_missing: skip}}
  - name: webinar-campaign
    from: {{connection: sf, campaign: "Webinar"}}
    to:   {{connection: pd, campaign: "Webinar 2026"}}
    exclusive: latest_wins
    mode: mirror
  - name: pricing-campaign
    from: {{connection: sf, campaign: "Pricing"}}
    to:   {{connection: pd, campaign: "Pricing 2026"}}
    exclusive: {pricing_policy}
    priority: 10
"""


@dataclass
class World:
    sf: SalesforceSandbox
    pd: PardotSandbox
    config: ClientConfig
    store: Store
    engine: Engine
    webinar: str
    pricing: str
    engaged: str
    nurture: int
    contacts: dict[str, str]
    prospects: dict[str, int]


def _build(tmp_path: Path, sf: SalesforceSandbox, pd: PardotSandbox, policy: str) -> tuple[ClientConfig, Store, Engine]:
    text = CONFIG.format(
        state=tmp_path / "state.db", sf_url=sf.instance_url, ca=sf.ca_bundle, sf_client=sf.credentials["client_id"],
        bu=pd.business_unit_id, pd_url=pd.url, pd_client=pd.org.credentials.client_id, pricing_policy=policy,
    )  # fmt: skip
    env = {"SF_SECRET": sf.credentials["client_secret"], "PD_SECRET": pd.org.credentials.client_secret}
    config = load_config_text(text, "e2e.yaml", env)
    store = Store(config.state_url)
    connectors = {
        "sf": SalesforceConnector("sf", config.connections["sf"], policy=no_wait_policy(), bulk_poll_seconds=0),
        "pd": PardotConnector("pd", config.connections["pd"], policy=no_wait_policy()),
    }
    return config, store, Engine(config, store, connectors)


@pytest.fixture(params=["keep_first"])
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    now = datetime.now(UTC)
    with SalesforceSandbox(daily_limit=100_000) as sf, PardotSandbox() as pd:
        org, bu = sf.state, pd.state
        statuses = [("Invited", False), ("Registered", False), ("Attended", True)]
        webinar = org.add_campaign("Webinar", statuses=statuses)
        pricing = org.add_campaign("Pricing", statuses=[("Sent", False), ("Responded", True)])
        engaged = org.add_campaign("Engaged 2026", statuses=[("Sent", False), ("Responded", True)])
        people = ["ada", "grace", "edsger", "alan", "barbara"]
        contacts = {p: org.add_contact(f"{p}@x.example", last_name=p.title()) for p in people}
        for person, status in (
            ("ada", "Attended"),
            ("grace", "Registered"),
            ("edsger", "Invited"),
            ("alan", "Registered"),
        ):
            org.add_member(webinar, contacts[person], status)
        org.add_member(pricing, contacts["ada"], "Sent")
        org.add_member(pricing, contacts["barbara"], "Sent")
        bu.add_campaign("Webinar 2026", salesforce_id=webinar)
        bu.add_campaign("Pricing 2026")
        bu.add_campaign("Unassigned")
        nurture = bu.add_list("Webinar nurture")
        bu.add_list("Hot prospects", rule=lambda p: p.score >= 100)
        prospects = {}
        for p, score, active in (
            ("ada", 150, 3),
            ("grace", 120, 45),
            ("edsger", 20, 2),
            ("alan", 100, 10),
            ("barbara", 5, None),
        ):
            prospects[p] = bu.add_prospect(f"{p}@x.example", score=score)
            if active is not None:
                bu.update_prospect(prospects[p], last_activity_at=now - timedelta(days=active))
        config, store, engine = _build(tmp_path, sf, pd, request.param)
        try:
            yield World(sf, pd, config, store, engine, webinar, pricing, engaged, nurture, contacts, prospects)
        finally:
            for connector in engine.connectors.values():
                connector.close()
            store.close()


def _list(world: World) -> set[str]:
    by_id = {v: k for k, v in world.prospects.items()}
    return {by_id[m.prospect_id] for m in world.pd.state.members(world.nurture)}


def test_registered_and_attended_webinar_members_mirror_into_the_static_list(world: World) -> None:
    first = world.engine.sync("webinar-to-list")
    assert first.status == "ok", first.message
    assert _list(world) == {"ada", "grace", "alan"}  # edsger was only invited
    assert world.engine.sync("webinar-to-list").counts.get("added", 0) == 0  # a rerun changes nothing

    world.sf.state.set_member_status(_member_id(world, "alan"), "Invited")  # no longer Registered
    world.sf.state.add_member(world.webinar, world.contacts["barbara"], "Attended")
    mirrored = world.engine.sync("webinar-to-list", full=True)
    assert mirrored.status == "ok", mirrored.message
    assert _list(world) == {"ada", "grace", "barbara"}
    # The removal deleted the membership; the prospect is not opted out of anything.
    assert not world.pd.state.prospects[world.prospects["alan"]].opted_out
    verdicts = {row["rule"]: row["verdict"] for row in explain(world.store, world.config, "barbara@x.example")}
    assert verdicts["webinar-to-list"].startswith("in pd:Webinar nurture; added by this rule")


def _member_id(world: World, person: str) -> str:
    rows = world.sf.state.tables["CampaignMember"]
    return next(
        mid
        for mid in world.sf.state.lookup("CampaignMember", "CampaignId", world.webinar)
        if rows[mid].get("ContactId") == world.contacts[person] and not rows[mid]["IsDeleted"]
    )


def test_the_engaged_segment_becomes_salesforce_campaign_members_with_a_status(world: World) -> None:
    report = world.engine.sync("engaged-to-sf")
    assert report.status == "ok", report.message
    engaged = world.sf.state.members(world.engaged)
    # score >= 100 and active within 30 days: ada (150, 3 days) and alan (100, 10 days); not grace (45 days).
    assert engaged == {world.contacts["ada"]: "Responded", world.contacts["alan"]: "Responded"}
    assert world.engine.sync("engaged-to-sf").counts.get("added", 0) == 0


def test_two_rules_writing_two_campaigns_for_one_prospect_follow_their_exclusive_policies(world: World) -> None:
    bu = world.pd.state
    by_name = {c.name: c.id for c in bu.campaigns.values()}
    webinar = world.engine.sync("webinar-campaign")
    assert webinar.status == "ok", webinar.message
    # latest_wins: every webinar member moves from the campaign they had (first touch) into this one.
    assert bu.prospects[world.prospects["ada"]].campaign_id == by_name["Webinar 2026"]
    assert bu.prospects[world.prospects["edsger"]].campaign_id == by_name["Webinar 2026"]
    pricing = world.engine.sync("pricing-campaign")
    assert pricing.status == "ok", pricing.message
    # keep_first: ada stays in the webinar campaign, logged as an exclusive conflict; barbara, in no
    # rule's campaign, keeps her first-touch campaign too (keep_first never moves a prospect).
    assert bu.prospects[world.prospects["ada"]].campaign_id == by_name["Webinar 2026"]
    assert bu.prospects[world.prospects["barbara"]].campaign_id == bu.default_campaign
    kinds = [(d.kind.value, d.email) for d in pricing.decisions]
    assert ("exclusive_target", "ada@x.example") in kinds
    assert ("exclusive_target", "barbara@x.example") in kinds
    ada = {row["rule"]: row for row in explain(world.store, world.config, "ada@x.example")}
    assert any("keep_first: kept where they are" in d["detail"] for d in ada["pricing-campaign"]["decisions"])

    # A removal never leaves a prospect campaign-less: it moves to the connection's removal_campaign.
    world.sf.state.remove_member(_member_id(world, "edsger"))
    again = world.engine.sync("webinar-campaign", full=True)
    assert again.status == "ok", again.message
    assert bu.prospects[world.prospects["edsger"]].campaign_id == by_name["Unassigned"]


def test_priority_moves_a_prospect_from_a_lower_priority_rules_campaign(tmp_path: Path) -> None:
    with SalesforceSandbox(daily_limit=100_000) as sf, PardotSandbox() as pd:
        webinar = sf.state.add_campaign("Webinar", statuses=[("Registered", False), ("Attended", True)])
        pricing = sf.state.add_campaign("Pricing", statuses=[("Sent", False), ("Responded", True)])
        sf.state.add_campaign("Engaged 2026")
        ada = sf.state.add_contact("ada@x.example", last_name="Lovelace")
        sf.state.add_member(webinar, ada, "Attended")
        sf.state.add_member(pricing, ada, "Sent")
        for name in ("Webinar 2026", "Pricing 2026", "Unassigned"):
            pd.state.add_campaign(name)
        pd.state.add_list("Webinar nurture")
        prospect = pd.state.add_prospect("ada@x.example")
        config, store, engine = _build(tmp_path, sf, pd, "priority")
        try:
            assert engine.sync("webinar-campaign").status == "ok"
            report = engine.sync("pricing-campaign")  # priority 10 beats the webinar rule's default 100
            assert report.status == "ok", report.message
            pricing_id = next(c.id for c in pd.state.campaigns.values() if c.name == "Pricing 2026")
            assert pd.state.prospects[prospect].campaign_id == pricing_id
            assert any("priority: moved here" in d.detail for d in report.decisions)
        finally:
            for connector in engine.connectors.values():
                connector.close()
            store.close()


def test_reconcile_finds_a_member_removed_by_hand_and_one_added_by_hand(world: World) -> None:
    from campaign_bridge.reconciler.report import FindingKind
    from campaign_bridge.reconciler.run import Reconciler

    assert world.engine.sync("webinar-to-list").status == "ok"
    bu = world.pd.state
    grace = bu.membership_of(world.nurture, world.prospects["grace"])
    assert grace is not None
    bu.remove_member(grace.id)  # a marketer removed her by hand
    bu.add_member(world.nurture, world.prospects["barbara"])  # and added someone the rule does not want
    report = Reconciler(world.config, world.store, world.engine.connectors).reconcile("webinar-to-list")
    kinds = {(f.kind, f.email) for f in report.findings}
    assert (FindingKind.MISSING, "grace@x.example") in kinds
    assert (FindingKind.UNOWNED, "barbara@x.example") in kinds


def test_under_ampsea_the_prospect_tied_to_the_salesforce_contact_is_the_one_written(tmp_path: Path) -> None:
    with SalesforceSandbox(daily_limit=100_000) as sf, PardotSandbox() as pd:
        webinar = sf.state.add_campaign("Webinar", statuses=[("Registered", False), ("Attended", True)])
        for name in ("Pricing", "Engaged 2026"):
            sf.state.add_campaign(name)
        lead = sf.state.add_lead("linus@x.example", last_name="Torvalds", company="Initech")
        contact = sf.state.add_contact("linus@x.example", last_name="Torvalds")
        sf.state.add_member(webinar, contact, "Registered")
        nurture = pd.state.add_list("Webinar nurture")
        tied_to_lead = pd.state.add_prospect("linus@x.example", salesforce_id=lead)
        tied_to_contact = pd.state.add_prospect("linus@x.example", salesforce_id=contact)
        config, store, engine = _build(tmp_path, sf, pd, "keep_first")
        try:
            report = engine.sync("webinar-to-list")
            assert report.status == "ok", report.message
            assert [m.prospect_id for m in pd.state.members(nurture)] == [tied_to_contact]
            ambiguous = [d.detail for d in report.decisions if d.kind.value == "ambiguous_identity"]
            assert ambiguous
            assert f"chose pd:contact:{tied_to_contact}" in ambiguous[0]
            assert f"pd:lead:{tied_to_lead}" in ambiguous[0]
        finally:
            for connector in engine.connectors.values():
                connector.close()
            store.close()
