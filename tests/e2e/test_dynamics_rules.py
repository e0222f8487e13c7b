"""The engine end to end between Dynamics 365 and HubSpot, both sandboxes over real HTTP(S), msal and
hubspot-api-client, state in SQLite.

* A Dynamics campaign with its linked lists (a static contact list, a static lead list holding a qualified
  lead, and a dynamic list) mirrors into a HubSpot list.
* A HubSpot behaviour segment (a form submitted lately) fills a static list of a Dynamics campaign, created
  and linked by the rule, with a campaign response for each person.
* Reruns change nothing; ``explain`` says why for a person on each side; ``validate`` refuses the targets
  Dynamics cannot take, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.dynamics import DynamicsConnector
from campaign_bridge.connectors.hubspot import HubSpotConnector, HubSpotSettings
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.errors import ConfigError
from campaign_bridge.sandbox.dynamics import DynamicsSandbox
from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.live import live_problems
from campaign_bridge.sync.store.store import Store

NORTHWIND = (
    '<fetch><entity name="contact"><attribute name="contactid"/><filter type="and">'
    '<condition attribute="emailaddress1" operator="like" value="%@northwind.example"/></filter></entity></fetch>'
)

CONFIG = """\
client: e2e
state: sqlite:///{state}
connections:
  d365:
    type: dynamics
    url: {d_url}
    tenant_id: {tenant}
    authority_host: {d_url}
    ca_bundle: {ca}
    auth: {{method: client_secret, client_id: {client_id}, client_secret: "${{D365_SECRET}}"}}
  hs:
    type: hubspot
    base_url: {hs_url}
    auth: {{method: private_app, token: "${{HS_TOKEN}}"}}
rules:
  - name: webinar-to-hs
    from: {{connection: d365, campaign: "Webinar 2026"}}
    to:   {{connection: hs, list: "Webinar audience"}}
    match: {{create_missing: skip}}
    mode: mirror
  - name: pricing-forms-to-d365
    from: {{connection: hs, segment: {{field: last_form_submitted_at, within: 30d}}}}
    to:   {{connection: d365, campaign: "Pricing 2026", list: "Pricing form responders", create_list: true,
            status: Interested}}
    match: {{prefer: contact, create_missing: skip}}
    mode: additive
{extra}"""


@dataclass
class World:
    d: DynamicsSandbox
    hs: HubSpotSandbox
    config: ClientConfig
    engine: Engine
    store: Store
    ids: dict[str, str]
    hs_list: str
    static: str
    pricing: str


def _connectors(config: ClientConfig, hs: HubSpotSandbox) -> dict[str, Connector]:
    policy = CallPolicy(attempts=3, sleep=lambda _: None)
    hub = HubSpotConnector("hs", HubSpotSettings(base_url=hs.url, auth={"method": "private_app", "token": hs.token}))
    return {"d365": DynamicsConnector("d365", config.connections["d365"], policy=policy), "hs": hub}


def load(d: DynamicsSandbox, hs: HubSpotSandbox, tmp_path: Path, extra: str = "") -> ClientConfig:
    creds = d.credentials()
    text = CONFIG.format(
        state=tmp_path / "state.db", d_url=d.url, tenant=creds["tenant_id"], ca=d.ca_bundle,
        client_id=creds["client_id"], hs_url=hs.url, extra=extra,
    )  # fmt: skip
    return load_config_text(text, "e2e.yaml", {"D365_SECRET": creds["client_secret"], "HS_TOKEN": hs.token})


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with DynamicsSandbox() as d, HubSpotSandbox() as hs:
        s = d.state
        ids = {
            "ada": s.add_contact("ada@northwind.example", "Ada", "Lovelace"),
            "grace": s.add_contact("grace@contoso.example", "Grace", "Hopper"),
            "edsger": s.add_contact("edsger@northwind.example", "Edsger", "Dijkstra"),
            "ken": s.add_contact("ken@umbrella.example", "Ken", "Thompson"),
            "margaret_lead": s.add_lead("margaret@hooli.example", "Margaret", "Hamilton", "Hooli"),
            "linus_lead": s.add_lead("linus@initech.example", "Linus", "Torvalds", "Initech"),
            "linus": s.add_contact("linus@initech.example", "Linus", "Torvalds"),
        }
        webinar = s.add_campaign("Webinar 2026")
        static = s.add_list("Webinar registrants", "contact", campaign=webinar)
        leads = s.add_list("Webinar leads", "lead", campaign=webinar)
        s.add_list("Northwind contacts", "contact", query=NORTHWIND, campaign=webinar)
        for who in ("ada", "grace"):
            s.add_member(static, ids[who])
        s.add_member(leads, ids["margaret_lead"])
        s.add_response(webinar, ids["ada"], 1)  # Interested
        ids["margaret"] = s.qualify_lead(ids["margaret_lead"])  # her membership follows her contact
        pricing = s.add_campaign("Pricing 2026")

        recent = datetime.now(UTC) - timedelta(days=3)
        for email in ("ada@northwind.example", "grace@contoso.example", "edsger@northwind.example",
                      "margaret@hooli.example"):  # fmt: skip
            hs.state.add_contact(email)
        for email in ("linus@initech.example", "nina@globex.example"):
            hs.state.add_contact(email, recent_conversion_date=recent, recent_conversion_event_name="Pricing request")
        hs.state.add_contact("ken@umbrella.example", recent_conversion_date=recent - timedelta(days=90))
        hs_list = hs.state.add_list("Webinar audience", "MANUAL")

        config = load(d, hs, tmp_path)
        store = Store(config.state_url)
        engine = Engine(config, store, _connectors(config, hs))
        try:
            yield World(d, hs, config, engine, store, ids, hs_list, static, pricing)
        finally:
            for c in engine.connectors.values():
                c.close()
            store.close()


def _hs_emails(w: World) -> set[str]:
    return {w.hs.state.get_contact(m)["email"] for m in w.hs.state.list_members(w.hs_list)}


def test_a_campaign_with_static_lead_and_dynamic_lists_mirrors_into_a_hubspot_list(world: World) -> None:
    first = world.engine.sync("webinar-to-hs")
    assert first.status == "ok", first.message
    # The union of the lists, once each; Margaret through the contact her qualified lead became.
    assert _hs_emails(world) == {
        "ada@northwind.example",
        "grace@contoso.example",
        "edsger@northwind.example",
        "margaret@hooli.example",
    }

    again = world.engine.sync("webinar-to-hs")
    assert again.status == "ok"
    assert (again.counts.get("added", 0), again.counts.get("removed", 0)) == (0, 0)

    # Grace leaves the static list; Edsger leaves the dynamic list's query (a new address): both go.
    world.d.state.remove_member(world.static, world.ids["grace"])
    world.d.state.get("contact", world.ids["edsger"])["emailaddress1"] = "edsger@tailspin.example"
    third = world.engine.sync("webinar-to-hs")
    assert third.status == "ok", third.message
    assert _hs_emails(world) == {"ada@northwind.example", "margaret@hooli.example"}

    (entry, _) = explain(world.store, world.config, "ada@northwind.example")
    assert entry["rule"] == "webinar-to-hs"
    assert "in hs:Webinar audience" in entry["verdict"]
    assert "added by this rule" in entry["verdict"]
    (gone, _) = explain(world.store, world.config, "grace@contoso.example")
    assert [d["kind"] for d in gone["decisions"]][:1] == ["removed"]


def test_a_hubspot_segment_fills_a_created_campaign_list_with_campaign_responses(world: World) -> None:
    first = world.engine.sync("pricing-forms-to-d365")
    assert first.status == "ok", first.message
    state = world.d.state
    (created,) = state.lists_of(world.pricing)
    assert (created["listname"], created["type"], created["createdfromcode"]) == ("Pricing form responders", False, 2)
    # Linus is a lead and a contact: the contact wins (prefer: contact). Nina is not in Dynamics (skip);
    # Ken's form is too old for the segment.
    assert set(state.static_members(created["listid"])) == {world.ids["linus"]}
    assert state.responses_of(world.pricing) == {world.ids["linus"]: 1}  # Interested

    again = world.engine.sync("pricing-forms-to-d365")
    assert again.status == "ok"
    assert again.counts.get("added", 0) == 0
    assert len(state.lists_of(world.pricing)) == 1  # not created twice
    assert (
        len([r for r in state.table("campaignresponse").values() if r["_regardingobjectid_value"] == world.pricing])
        == 1
    )

    (_, linus) = explain(world.store, world.config, "linus@initech.example")
    assert "in d365:Pricing form responders with status 'Interested'" in linus["verdict"]
    assert any(d["kind"] == "ambiguous_identity" for d in linus["decisions"])
    (_, nina) = explain(world.store, world.config, "nina@globex.example")
    assert nina["verdict"].startswith("not in d365:Pricing form responders")
    assert any(d["kind"] == "unmatched_person" for d in nina["decisions"])


def test_a_response_is_never_downgraded(world: World) -> None:
    state = world.d.state
    lst = state.add_list("Pricing form responders", "contact", campaign=world.pricing)
    state.add_member(lst, world.ids["linus"])
    state.add_response(world.pricing, world.ids["linus"], 4)  # Error: later in the option order than Interested
    report = world.engine.sync("pricing-forms-to-d365")
    assert report.status == "ok", report.message
    assert state.responses_of(world.pricing) == {world.ids["linus"]: 4}  # no Interested response written


RULES_DYNAMICS_REFUSES = """\
  - name: to-dynamic
    from: {connection: hs, list: "Webinar audience"}
    to:   {connection: d365, list: "Northwind contacts"}
  - name: to-locked
    from: {connection: hs, list: "Webinar audience"}
    to:   {connection: d365, list: "Imported (locked)"}
  - name: to-leads-preferring-contacts
    from: {connection: hs, list: "Webinar audience"}
    to:   {connection: d365, list: "Webinar leads"}
  - name: to-missing-campaign-list
    from: {connection: hs, list: "Webinar audience"}
    to:   {connection: d365, campaign: "Webinar 2026", list: "Nobody made this", status: Member}
"""


def test_validate_refuses_targets_dynamics_cannot_take_with_the_reason(world: World, tmp_path: Path) -> None:
    world.d.state.add_list("Imported (locked)", "contact", locked=True)
    before = world.d.state.snapshot()
    config = load(world.d, world.hs, tmp_path, RULES_DYNAMICS_REFUSES)
    found = live_problems(config, _connectors(config, world.hs), config.rule_lines)
    problems = {p.message.split("'")[1]: p.message for p in found}
    assert "dynamic marketing list" in problems["to-dynamic"]
    assert "locked" in problems["to-locked"]
    assert "holds only lead records" in problems["to-leads-preferring-contacts"]
    assert "prefer: lead" in problems["to-leads-preferring-contacts"]
    assert "no list named 'Nobody made this'" in problems["to-missing-campaign-list"]
    assert "create_list: true" in problems["to-missing-campaign-list"]
    assert {"webinar-to-hs", "pricing-forms-to-d365"}.isdisjoint(problems)
    assert world.d.state.snapshot() == before  # validate wrote nothing


def test_a_campaign_alone_is_refused_as_a_target_before_any_call(world: World, tmp_path: Path) -> None:
    bad = """\
  - name: to-campaign
    from: {connection: hs, list: "Webinar audience"}
    to:   {connection: d365, campaign: "Webinar 2026", status: Interested}
"""
    with pytest.raises(ConfigError, match="holds no members itself"):
        load(world.d, world.hs, tmp_path, bad)


SEGMENT_RULE = """\
  - name: northwind-people-to-hs
    from: {connection: d365, segment: {field: email, contains: "@northwind.example"}}
    to:   {connection: hs, list: "Webinar audience"}
    mode: mirror
"""


def test_a_dynamics_segment_mirrors_into_a_hubspot_list(world: World, tmp_path: Path) -> None:
    config = load(world.d, world.hs, tmp_path, SEGMENT_RULE)
    engine = Engine(config, world.store, _connectors(config, world.hs))
    first = engine.sync("northwind-people-to-hs")
    assert first.status == "ok", first.message
    assert _hs_emails(world) == {"ada@northwind.example", "edsger@northwind.example"}
    assert engine.sync("northwind-people-to-hs").counts.get("added", 0) == 0


def test_a_segment_on_a_field_dynamics_lacks_is_refused_at_load(world: World, tmp_path: Path) -> None:
    bad = SEGMENT_RULE.replace("field: email, contains", "field: score, gte").replace('"@northwind.example"', "50")
    with pytest.raises(ConfigError, match="score"):
        load(world.d, world.hs, tmp_path, bad)


def test_campaign_bridge_validate_names_the_line_and_the_reason(world: World, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from campaign_bridge.cli import main

    creds = world.d.credentials()
    text = CONFIG.format(
        state=tmp_path / "state.db", d_url=world.d.url, tenant=creds["tenant_id"], ca=world.d.ca_bundle,
        client_id=creds["client_id"], hs_url=world.hs.url, extra=RULES_DYNAMICS_REFUSES.split("  - name: to-locked")[0],
    )  # fmt: skip
    path = tmp_path / "client.yaml"
    path.write_text(text)
    env = {"D365_SECRET": creds["client_secret"], "HS_TOKEN": world.hs.token}
    result = CliRunner().invoke(main, ["validate", str(path)], env=env)
    assert result.exit_code == 2, result.output
    line = text.splitlines().index("  - name: to-dynamic") + 1
    assert f"{path}:{line}: rule 'to-dynamic' to: cannot write to 'Northwind contacts'" in result.output
    assert creds["client_secret"] not in result.output


def test_doctor_reads_the_application_users_privileges(world: World, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from campaign_bridge.cli import main

    creds = world.d.credentials()
    text = CONFIG.format(
        state=tmp_path / "state.db", d_url=world.d.url, tenant=creds["tenant_id"], ca=world.d.ca_bundle,
        client_id=creds["client_id"], hs_url=world.hs.url, extra="",
    )  # fmt: skip
    path = tmp_path / "client.yaml"
    path.write_text(text)
    env = {"D365_SECRET": creds["client_secret"], "HS_TOKEN": world.hs.token}
    fine = CliRunner().invoke(main, ["doctor", str(path), "--json"], env=env)
    access = [f for f in json.loads(fine.stdout) if f["connection"] == "d365" and f["check"] == "access"]
    assert access
    assert all(f["status"] == "ok" for f in access), access
    assert any("prvAppendList" in f["detail"] for f in access)
    clock = [f for f in json.loads(fine.stdout) if f["connection"] == "d365" and f["check"] == "clock"]
    assert clock[0]["status"] == "ok"

    world.d.state.privileges.discard("prvWriteList")
    revoked = CliRunner().invoke(main, ["doctor", str(path), "--json"], env=env)
    assert revoked.exit_code == 1
    problems = [f for f in json.loads(revoked.stdout) if f["status"] == "problem"]
    assert {(f["connection"], f["detail"].split(" (")[0]) for f in problems} == {("d365", "add members")}
    assert "prvWriteList" in problems[0]["detail"]
    assert "pricing-forms-to-d365" in problems[0]["detail"]
    assert "Write on List" in problems[0]["fix"]
    assert creds["client_secret"] not in revoked.output


def test_reconcile_finds_a_member_removed_by_hand_from_a_created_campaign_list(world: World) -> None:
    from campaign_bridge.reconciler.run import Reconciler

    assert world.engine.sync("pricing-forms-to-d365").status == "ok"
    reconciler = Reconciler(world.config, world.store, world.engine.connectors)
    clean = reconciler.reconcile("pricing-forms-to-d365")
    assert clean.status == "ok", clean.findings  # the list the rule created is the one its ledger names
    (created,) = world.d.state.lists_of(world.pricing)
    world.d.state.remove_member(created["listid"], world.ids["linus"])  # someone removes Linus by hand
    drift = Reconciler(world.config, world.store, _connectors(world.config, world.hs)).reconcile(
        "pricing-forms-to-d365", repair=True
    )
    assert [(f.kind, f.email) for f in drift.findings] == [("missing", "linus@initech.example")]
    # on_manual_removal: respect (the default): the person's own removal stands, now and in the next sync.
    assert world.d.state.static_members(created["listid"]) == []
    assert world.engine.sync("pricing-forms-to-d365").counts.get("added", 0) == 0
    assert world.d.state.static_members(created["listid"]) == []
