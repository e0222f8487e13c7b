"""The engine end to end with Marketo on one side and Salesforce on the other (both sandboxes over real
HTTP, state in SQLite): a Salesforce campaign → a Marketo program with a status map; a Marketo smart list
→ a Salesforce campaign; a Marketo activity segment (clicked an e-mail in 30 days) → a Salesforce campaign;
and the bad inputs a consultant meets first."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.marketo import MarketoConnector
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.errors import AuthError, ConfigError
from campaign_bridge.sandbox.marketo import MarketoSandbox
from campaign_bridge.sandbox.marketo.state import CLICK_EMAIL
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.live import live_problems
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
    auth: {{method: client_credentials, client_id: {sf_id}, client_secret: "${{SF_SECRET}}"}}
  mk:
    type: marketo
    base_url: {mk_url}
    auth: {{method: client_credentials, client_id: {mk_id}, client_secret: "${{MK_SECRET}}"}}
rules:
  - name: webinar-to-program
    from: {{connection: sf, campaign: "Webinar"}}
    to: {{connection: mk, program: "Webinar program", status_map: {{Registered: Registered, Attended: Attended}}}}
    match: {{create_missing: skip}}
    mode: mirror
  - name: clicked-list-to-sf
    from: {{connection: mk, list: "Clicked an email"}}
    to: {{connection: sf, campaign: "Engaged", status: Responded}}
    match: {{create_missing: skip}}
    mode: mirror
  - name: recent-clicks-to-sf
    from: {{connection: mk, segment: {{field: last_email_click_at, within: 30d}}}}
    to: {{connection: sf, campaign: "Engaged recently", status: Responded}}
    match: {{create_missing: skip}}
    mode: mirror
{extra}"""
DAY = 86_400.0
STATUSES = [("Invited", False), ("Registered", False), ("Attended", True)]


@dataclass
class World:
    sf: SalesforceSandbox
    mk: MarketoSandbox
    config: ClientConfig
    engine: Engine
    store: Store
    sf_ids: dict[str, str]
    mk_ids: dict[str, int]


def _config(sf: SalesforceSandbox, mk: MarketoSandbox, tmp: Path, extra: str = "", mk_secret: str = "") -> ClientConfig:
    creds = sf.credentials
    text = CONFIG.format(
        state=tmp / "state.db", sf_url=sf.instance_url, ca=sf.ca_bundle, sf_id=creds["client_id"],
        mk_url=mk.url, mk_id=mk.client_id, extra=extra,
    )  # fmt: skip
    return load_config_text(
        text, "e2e.yaml", {"SF_SECRET": creds["client_secret"], "MK_SECRET": mk_secret or mk.client_secret}
    )


def _engine(config: ClientConfig) -> tuple[Engine, Store]:
    store = Store(config.state_url)
    connectors = {
        "sf": SalesforceConnector("sf", config.connections["sf"], policy=no_wait_policy()),
        "mk": MarketoConnector("mk", config.connections["mk"]),
    }
    return Engine(config, store, connectors), store


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with SalesforceSandbox(daily_limit=100_000) as sf, MarketoSandbox(per_window=100, concurrent=10) as mk:
        people = ["ada@x.example", "grace@x.example", "ed@x.example", "alan@x.example"]
        sf_ids = {e: sf.state.add_contact(e) for e in people}
        mk_ids = {e: mk.state.add_lead(e) for e in people}
        config = _config(sf, mk, tmp_path)
        engine, store = _engine(config)
        try:
            yield World(sf, mk, config, engine, store, sf_ids, mk_ids)
        finally:
            for connector in engine.connectors.values():
                connector.close()
            store.close()


def _program_statuses(w: World, program: int) -> dict[str, str]:
    emails = {v: k for k, v in w.mk_ids.items()}
    return {emails[i]: m.status for i, m in w.mk.state.programs[program].members.items()}


def _sf_emails(w: World, campaign: str) -> set[str]:
    emails = {v: k for k, v in w.sf_ids.items()}
    return {emails[i] for i in w.sf.state.members(campaign)}


def test_salesforce_campaign_to_program_follows_rises_and_never_lowers(world: World) -> None:
    w = world
    campaign = w.sf.state.add_campaign("Webinar", statuses=STATUSES)
    members = {e: w.sf.state.add_member(campaign, w.sf_ids[e], s) for e, s in
               (("ada@x.example", "Registered"), ("grace@x.example", "Attended"), ("ed@x.example", "Invited"))}  # fmt: skip
    program = w.mk.state.add_program("Webinar program", channel="Webinar")
    # Marketing already marked alan as Attended in Marketo; sales has him as Registered.
    w.mk.state.set_member_status(program, w.mk_ids["alan@x.example"], "Attended")
    members["alan@x.example"] = w.sf.state.add_member(campaign, w.sf_ids["alan@x.example"], "Registered")

    first = w.engine.sync("webinar-to-program")
    assert first.status == "ok"
    assert _program_statuses(w, program) == {
        "ada@x.example": "Registered", "grace@x.example": "Attended", "alan@x.example": "Attended",
    }  # fmt: skip
    explained = explain(w.store, w.config, "alan@x.example")
    assert any("never moves backwards" in str(row) for row in explained)

    w.sf.state.set_member_status(members["ada@x.example"], "Attended")  # a rise, followed
    w.sf.state.set_member_status(members["grace@x.example"], "Registered")  # lowered by hand: not followed
    second = w.engine.sync("webinar-to-program")
    assert second.status == "ok"
    assert _program_statuses(w, program)["ada@x.example"] == "Attended"
    assert _program_statuses(w, program)["grace@x.example"] == "Attended"

    w.mk.server.reset_log()
    idle = w.engine.sync("webinar-to-program")
    assert (idle.adds, idle.status_changes, idle.removals) == ([], [], [])
    # Marketo side of an idle run: the program by name and its channel (plus the token).
    assert w.mk.server.calls(r"^/rest/") == 2


def test_smart_list_to_salesforce_campaign(world: World) -> None:
    w = world
    campaign = w.sf.state.add_campaign("Engaged", statuses=[("Sent", False), ("Responded", True)])
    w.mk.state.add_smart_list("Clicked an email", {"activityTypeId": CLICK_EMAIL, "days": 3650})
    for e in ("ada@x.example", "grace@x.example"):
        w.mk.state.log_activity(w.mk_ids[e], CLICK_EMAIL, "Newsletter")
    first = w.engine.sync("clicked-list-to-sf")
    assert first.status == "ok"
    assert _sf_emails(w, campaign) == {"ada@x.example", "grace@x.example"}
    assert set(w.sf.state.members(campaign).values()) == {"Responded"}
    assert w.mk.server.calls(r"^/bulk/v1/leads/export/") == 4  # create, enqueue, status, file
    again = w.engine.sync("clicked-list-to-sf")
    assert (again.adds, again.removals) == ([], [])


def test_activity_segment_clicked_in_30_days_to_salesforce_campaign(world: World) -> None:
    w = world
    campaign = w.sf.state.add_campaign("Engaged recently", statuses=[("Sent", False), ("Responded", True)])
    now = time.time()
    w.mk.state.log_activity(w.mk_ids["ada@x.example"], CLICK_EMAIL, "Newsletter", at=now - 3 * DAY)
    w.mk.state.log_activity(w.mk_ids["grace@x.example"], CLICK_EMAIL, "Newsletter", at=now - 90 * DAY)
    report = w.engine.sync("recent-clicks-to-sf")
    assert report.status == "ok"
    assert _sf_emails(w, campaign) == {"ada@x.example"}
    # Token, activities since 30 days ago (one page), the candidate's lead by id.
    assert w.mk.server.calls(r"^/rest/v1/activities") == 2
    assert w.mk.server.calls(r"^/rest/v1/leads\.json") == 1


def test_wrong_credentials_stop_with_a_clear_message_and_write_nothing(world: World, tmp_path: Path) -> None:
    w = world
    w.sf.state.add_campaign("Webinar", statuses=STATUSES)
    program = w.mk.state.add_program("Webinar program", channel="Webinar")
    config = _config(w.sf, w.mk, tmp_path / "x", mk_secret="wrong")
    (tmp_path / "x").mkdir()
    engine, store = _engine(config)
    with pytest.raises(AuthError, match="Bad client credentials") as caught:
        engine.sync("webinar-to-program")
    assert "wrong" not in str(caught.value)
    assert w.mk.state.programs[program].members == {}
    store.close()


def test_validate_refuses_a_smart_campaign_target_a_smart_list_target_and_a_missing_status(
    world: World, tmp_path: Path
) -> None:
    w = world
    w.sf.state.add_campaign("Webinar", statuses=STATUSES)
    w.mk.state.add_program("Webinar program", channel="Webinar")
    w.mk.state.add_smart_campaign("Welcome flow")
    w.mk.state.add_smart_list("Clicked an email", {"activityTypeId": CLICK_EMAIL, "days": 30})
    flow = """  - name: to-flow
    from: {connection: sf, campaign: "Webinar"}
    to: {connection: mk, smart_campaign: "Welcome flow"}
"""
    with pytest.raises(ConfigError, match="smart campaign is a flow .* target a static list, or a program"):
        _config(w.sf, w.mk, tmp_path, flow)  # refused offline, from the rule file alone
    extra = """  - name: to-smart-list
    from: {connection: sf, campaign: "Webinar"}
    to: {connection: mk, list: "Clicked an email"}
  - name: bad-status
    from: {connection: sf, campaign: "Webinar"}
    to: {connection: mk, program: "Webinar program", status_map: {Attended: Came}}
"""
    config = _config(w.sf, w.mk, tmp_path, extra)
    engine, store = _engine(config)
    text = "\n".join(p.message for p in live_problems(config, engine.connectors, {}))
    assert "smart list is computed" in text
    assert "has no member status 'Came'" in text
    store.close()


def test_the_daily_quota_stops_a_run_cleanly_and_the_next_run_resumes(world: World) -> None:
    w = world
    campaign = w.sf.state.add_campaign("Webinar", statuses=STATUSES)
    for e in w.sf_ids:
        w.sf.state.add_member(campaign, w.sf_ids[e], "Registered")
    program = w.mk.state.add_program("Webinar program", channel="Webinar")
    w.mk.state.limits.daily = 2  # the token is free; finding the program and its channel spends the day
    stopped = w.engine.sync("webinar-to-program")
    assert stopped.status == "stopped"
    assert "daily API quota" in stopped.message
    assert w.mk.state.programs[program].members == {}
    w.mk.state.limits.daily = None  # midnight, US Central
    resumed = w.engine.sync("webinar-to-program")
    assert resumed.status == "ok"
    assert set(_program_statuses(w, program).values()) == {"Registered"}
    assert len(_program_statuses(w, program)) == 4


def test_a_malformed_lead_is_refused_with_the_reason_and_the_others_sync(world: World, tmp_path: Path) -> None:
    w = world
    campaign = w.sf.state.add_campaign("Imported", statuses=[("Sent", False), ("Responded", True)])
    static = w.mk.state.add_list("Trade show")
    bad = w.mk.state.add_lead("bad address@x.example")  # Marketo kept an imported address with a space
    fresh = w.mk.state.add_lead("fresh@x.example")
    w.mk.state.add_list_members(static, [bad, fresh, w.mk_ids["ada@x.example"]])
    extra = """  - name: show-to-sf
    from: {connection: mk, list: "Trade show"}
    to: {connection: sf, campaign: "Imported", status: Responded}
    match: {prefer: contact, create_missing: lead}
"""
    config = _config(w.sf, w.mk, tmp_path / "m", extra)
    (tmp_path / "m").mkdir()
    engine, store = _engine(config)
    try:
        report = engine.sync("show-to-sf")
        assert report.status == "ok"
        rejected = [d for d in report.decisions if d.kind == "rejected_record"]
        assert [d.email for d in rejected] == ["bad address@x.example"]
        assert "email" in rejected[0].detail.lower()
        members = w.sf.state.members(campaign)
        assert w.sf_ids["ada@x.example"] in members
        assert len(members) == 2  # ada, and fresh as a new lead; nothing for the bad address
    finally:
        for connector in engine.connectors.values():
            connector.close()
        store.close()


def test_program_to_salesforce_campaign_maps_statuses_back(world: World, tmp_path: Path) -> None:
    w = world
    campaign = w.sf.state.add_campaign("Webinar followers", statuses=[("Sent", False), ("Came", True)])
    program = w.mk.state.add_program("Webinar program", channel="Webinar")
    for e, status in (("ada@x.example", "Attended"), ("grace@x.example", "Registered"), ("ed@x.example", "Invited")):
        w.mk.state.set_member_status(program, w.mk_ids[e], status)
    extra = """  - name: program-to-sf
    from: {connection: mk, program: "Webinar program"}
    to: {connection: sf, campaign: "Webinar followers", status_map: {Attended: Came, Registered: Sent}}
    match: {prefer: contact, create_missing: skip}
    mode: mirror
"""
    config = _config(w.sf, w.mk, tmp_path / "p", extra)
    (tmp_path / "p").mkdir()
    engine, store = _engine(config)
    try:
        assert engine.sync("program-to-sf").status == "ok"
        by_email = {v: k for k, v in w.sf_ids.items()}
        assert {by_email[i]: s for i, s in w.sf.state.members(campaign).items()} == {
            "ada@x.example": "Came",
            "grace@x.example": "Sent",
        }
        w.mk.state.set_member_status(program, w.mk_ids["grace@x.example"], "Attended")  # grace came after all
        assert engine.sync("program-to-sf").status == "ok"
        assert w.sf.state.members(campaign)[w.sf_ids["grace@x.example"]] == "Came"
    finally:
        for connector in engine.connectors.values():
            connector.close()
        store.close()
