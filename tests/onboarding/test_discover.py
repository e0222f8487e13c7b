"""``campaign-bridge discover`` against the demo company in the Salesforce and HubSpot sandboxes."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.config.loader import load_config, load_config_text
from campaign_bridge.connectors.discovery import SupportsDiscovery
from campaign_bridge.connectors.memory import MemorySettings, memory_store
from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.onboarding.discover import discover
from tests.onboarding.conftest import Plain, Site


def _by_name(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in view["containers"]}


def test_json_names_every_container_with_members_statuses_and_what_a_rule_may_do(site: Site) -> None:
    result = site.run("discover", str(site.config), "--json")
    assert result.exit_code == 0, result.output
    sf, hs = json.loads(result.stdout)
    assert (sf["name"], sf["system"], sf["role"]) == ("sf", "salesforce", "crm")
    webinar = _by_name(sf)["Webinar 2026-Q4"]
    assert webinar["key"] == "campaign"
    assert webinar["members"] == 6  # from the campaign's roll-ups, with no count query
    assert [s["label"] for s in webinar["statuses"]] == ["Invited", "Registered", "Attended"]
    assert [s["responded"] for s in webinar["statuses"]] == [False, False, True]
    assert webinar["source"]
    assert webinar["target"]
    clicked = _by_name(hs)["Clicked a marketing email"]
    assert clicked["kind"] == "dynamic_list"
    assert clicked["members"] == 3
    assert clicked["source"] is True
    assert clicked["target"] is False
    assert "computed by the system" in clicked["target_why"]
    nurture = _by_name(hs)["Webinar Q4 nurture"]
    assert nurture["kind"] == "static_list"
    assert nurture["target"] is True


def test_segment_fields_are_listed_with_their_types_and_the_missing_ones_named(site: Site) -> None:
    sf, hs = json.loads(site.run("discover", str(site.config), "--json").stdout)
    assert hs["segment_fields"]["score"] == "number"
    assert hs["segment_fields"]["hard_bounced"] == "bool"
    assert sf["segment_fields"]["last_activity_at"] == "date"
    assert "score" in sf["lacks_fields"]
    assert "opportunity_stage" in hs["lacks_fields"]


def test_counting_members_costs_no_call_beyond_the_listing(site: Site) -> None:
    sf, hs = json.loads(site.run("discover", str(site.config), "--json").stdout)
    # Salesforce: one login, one query for campaigns, statuses and roll-ups; HubSpot: one lists search.
    assert sf["calls_by_endpoint"] == {"oauth2/token": 1, "query": 1}
    assert hs["calls_by_endpoint"] == {"lists.search": 1}


def test_one_connection_and_the_table(site: Site) -> None:
    result = site.run("discover", str(site.config), "hs")
    assert result.exit_code == 0, result.output
    assert "Clicked a marketing email" in result.stdout
    assert "Webinar 2026-Q4" not in result.stdout
    assert "no: a DYNAMIC (active) HubSpot list" in result.stdout
    assert "API calls: 1" in result.stdout
    unknown = site.run("discover", str(site.config), "nope")
    assert unknown.exit_code == 2
    assert "no connection 'nope'" in unknown.output


def test_a_connection_that_refuses_its_credentials_is_reported_and_exits_1(site: Site) -> None:
    environ = {**site.environ, "CB_DEMO_HS_TOKEN": "pat-wrong"}
    result = CliRunner().invoke(main, ["discover", str(site.config), "--json"], env=environ)
    assert result.exit_code == 1
    sf, hs = json.loads(result.stdout)
    assert sf["error"] is None
    assert sf["containers"]
    assert hs["containers"] == []
    assert "401" in hs["error"]
    assert "pat-wrong" not in result.output


def test_memory_systems_are_counted_one_call_per_container() -> None:
    data = memory_store("discover-test")
    data.containers.clear()
    campaign = data.add_container("Trade show", ContainerKind.CAMPAIGN, statuses=[("Sent", False)])
    person = data.add_person("a@example.com")
    data.add_member(campaign, person, "Sent")
    config = load_config_text(
        "client: t\nconnections:\n  crm: {type: memory-crm, store: discover-test}\n", "t.yaml", environ={}
    )
    conn = build_connector("crm", config.connections["crm"])
    [view] = discover({"crm": conn})
    [shown] = view.containers
    assert (shown.name, shown.members, shown.target) == ("Trade show", 1, True)
    assert view.calls == 2  # the listing, and one count


def test_a_campaign_listed_without_its_roll_ups_costs_one_count_query(site: Site) -> None:
    config = load_config(site.config, environ=site.environ)
    conn = build_connector("sf", config.connections["sf"])
    try:
        webinar = conn.find_container("campaign", "Webinar 2026-Q4")
        before = conn.usage().by_endpoint.get("query", 0)
        assert isinstance(conn, SupportsDiscovery)
        counts = conn.count_members([replace(webinar, size=None)])
        assert counts == {webinar.id: 6}
        assert conn.usage().by_endpoint["query"] == before + 1
        assert conn.count_members([webinar]) == {webinar.id: 6}
        assert conn.usage().by_endpoint["query"] == before + 1  # a known size costs nothing
    finally:
        conn.close()


def test_a_connector_without_the_protocol_is_still_discovered() -> None:
    conn = Plain("crm", MemorySettings(type="memory-crm"))
    assert not isinstance(conn, SupportsDiscovery)
    [view] = discover({"crm": conn})
    [expo] = view.containers
    assert expo.members is None  # not counted: the connector cannot say
    assert expo.target is True
    assert view.segment_fields == {}
    assert "score" in view.lacks_fields
