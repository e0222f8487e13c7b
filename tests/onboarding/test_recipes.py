"""Recipes: each written for each system pair it applies to, each refused where a system lacks what it
needs, and each written rule valid for ``validate`` (offline, and live against the demo's sandboxes)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from campaign_bridge.config.loader import load_config, load_config_text
from campaign_bridge.connectors.registry import connector_class
from campaign_bridge.onboarding.recipes import RECIPES, RecipeError, Side, recipe
from campaign_bridge.sync.live import check_live
from tests.onboarding.conftest import Site


def _side(connection: str, system: str) -> Side:
    return Side(connection, system, connector_class(system).segment_fields)


SF, HS = _side("sf", "salesforce"), _side("hs", "hubspot")
CRM, MA = _side("crm", "memory-crm"), _side("ma", "memory-ma")

#: Parameters naming the demo company's containers, per recipe (CRM → MA recipes fill the nurture list).
DEMO_PARAMS: dict[str, dict[str, str]] = {
    "event-to-nurture": {"from": "Webinar 2026-Q4", "to": "Webinar Q4 nurture"},
    "pricing-requests": {"to": "Pricing interest 2026"},
    "bounces-to-email-health": {"to": "Email health 2026", "status": "Bounced"},
    "inactive-to-winback": {"to": "Win-back 2026", "status": "Gone quiet"},
    "score-to-sales-ready": {"to": "Pricing interest 2026", "status": "Responded"},
    "email-engagement": {"to": "Email engagement 2026", "status": "Clicked"},
    "crm-data-to-ma": {"field": "opportunity_stage", "values": "Closed Won", "to": "Webinar Q4 nurture"},
}


def _pair(r: Any, crm: Side, ma: Side) -> tuple[Side, Side]:
    return (crm, ma) if r.source_role.value == "crm" else (ma, crm)


def _offline(rule: dict[str, Any], systems: dict[str, str]) -> None:
    connections = {name: {"type": system, "store": "recipes"} for name, system in systems.items()}
    text = yaml.safe_dump({"client": "t", "connections": connections, "rules": [rule]}, sort_keys=False)
    load_config_text(text, "t.yaml", environ={})


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_is_written_for_a_system_with_every_field_and_validates(name: str) -> None:
    r = recipe(name)
    source, target = _pair(r, CRM, MA)
    params = {**DEMO_PARAMS[name], "status": "Sent"} if target is CRM else DEMO_PARAMS[name]
    written = r.write(source, target, params)
    assert written.refusal is None
    assert written.rule is not None
    assert written.rule["name"] == name
    _offline(written.rule, {"crm": "memory-crm", "ma": "memory-ma"})


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_written_for_salesforce_and_hubspot_passes_validate_live(site: Site, name: str) -> None:
    r = recipe(name)
    source, target = _pair(r, SF, HS)
    written = r.write(source, target, DEMO_PARAMS[name])
    assert written.rule is not None, written.refusal
    data = yaml.safe_load(site.config.read_text())
    data["rules"] = [written.rule]
    path = site.folder / f"recipe-{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    config = load_config(path, environ=site.environ)
    check_live(config, config.rule_lines)  # raises ConfigError listing every problem


def test_salesforce_has_no_lifecycle_stage_or_purchases_so_those_crm_rules_are_refused() -> None:
    r = recipe("crm-data-to-ma")
    for field in ("lifecycle_stage", "last_purchase_at"):
        written = r.write(SF, HS, {"field": field, "values": "customer", "to": "Nurture"})
        assert written.rule is None
        assert written.refusal is not None
        assert written.refusal.startswith(f"salesforce has no segment field {field} (it has: ")
    owner = r.write(SF, HS, {"field": "owner", "values": "005A,005B", "to": "Nurture"})
    assert owner.rule is not None
    assert owner.rule["from"]["segment"] == {"field": "owner", "in": ["005A", "005B"]}
    assert owner.rule["mode"] == "mirror"


def test_salesforce_has_no_score_and_hubspot_no_grade() -> None:
    refused = recipe("score-to-sales-ready").write(SF, HS, {"to": "x", "status": "y"})
    assert refused.refusal is not None  # a CRM source: the recipe reads an MA system
    scored = recipe("score-to-sales-ready").write(HS, SF, {"to": "Sales ready", "status": "Sent", "grade": "A,B"})
    assert scored.rule is not None
    assert scored.rule["from"]["segment"] == {"field": "score", "gte": 50}
    assert any("grade left out: hubspot has no grade" in n for n in scored.notes)
    graded = recipe("score-to-sales-ready").write(MA, CRM, {"to": "Sales ready", "status": "Sent", "score": "70"})
    assert graded.rule is not None
    assert graded.rule["from"]["segment"] == {"field": "score", "gte": 70}


def test_one_named_email_needs_a_list_because_no_segment_field_names_the_email() -> None:
    r = recipe("email-engagement")
    named = r.write(HS, SF, {"email": "Spring launch", "to": "Email engagement 2026", "status": "Clicked"})
    assert named.rule is None
    assert named.refusal is not None
    assert "cannot tell which e-mail was clicked" in named.refusal
    assert "--param from=<list name>" in named.refusal
    listed = r.write(HS, SF, {"from": "Clicked a marketing email", "to": "Email engagement 2026", "status": "Clicked"})
    assert listed.rule is not None
    assert listed.rule["from"] == {"connection": "hs", "list": "Clicked a marketing email"}
    opened = r.write(HS, SF, {"action": "opened", "days": "7", "to": "E", "status": "Opened"})
    assert opened.rule is not None
    assert opened.rule["from"]["segment"] == {"field": "last_email_open_at", "within": "7d"}
    assert any("weak signal" in n for n in opened.notes)


def test_bounces_take_hard_bounces_and_the_soft_count() -> None:
    written = recipe("bounces-to-email-health").write(HS, SF, {"to": "Email health 2026", "status": "Bounced"})
    assert written.rule is not None
    assert written.rule["from"]["segment"] == {
        "any": [{"field": "hard_bounced", "eq": True}, {"field": "soft_bounce_count", "gte": 4}]
    }
    assert written.rule["match"] == {"prefer": "contact", "create_missing": "skip"}


def test_wrong_parameters_say_which_and_how() -> None:
    r = recipe("inactive-to-winback")
    with pytest.raises(RecipeError, match=r"give --param to=…"):
        r.write(HS, SF, {"status": "Gone quiet"})
    with pytest.raises(RecipeError, match="days must be a whole number, got 'sixty'"):
        r.write(HS, SF, {"to": "W", "status": "S", "days": "sixty"})
    with pytest.raises(RecipeError, match="unknown parameter colour"):
        r.write(HS, SF, {"to": "W", "status": "S", "colour": "red"})
    with pytest.raises(RecipeError, match="did you mean 'inactive-to-winback'"):
        recipe("inactive-to-winbak")
    no_status = r.write(HS, SF, {"to": "Win-back 2026"})
    assert no_status.refusal is not None
    assert "give --param status=…" in no_status.refusal


def test_recipes_command_lists_where_each_applies(site: Site) -> None:
    result = site.run("recipes", "--json")
    assert result.exit_code == 0, result.output
    listed = {r["name"]: r["applies"] for r in json.loads(result.stdout)}
    assert set(listed) == set(RECIPES)
    assert listed["event-to-nurture"]["salesforce → hubspot"] is None
    assert listed["score-to-sales-ready"]["hubspot → salesforce"] is None
    assert listed["crm-data-to-ma"]["memory-crm → memory-ma"] is None
    assert "salesforce has none of the CRM fields" not in str(listed["crm-data-to-ma"]["salesforce → hubspot"])


def test_recipes_for_a_file_print_rules_that_validate(site: Site) -> None:
    result = site.run(
        "recipes",
        str(site.config),
        "--recipe",
        "inactive-to-winback",
        "--param",
        "inactive-to-winback.to=Win-back 2026",
        "--param",
        "status=Gone quiet",
    )
    assert result.exit_code == 0, result.output
    [rule] = yaml.safe_load(result.stdout)  # only the rules: ready to paste under rules:
    assert rule["to"] == {"connection": "sf", "campaign": "Win-back 2026", "status": "Gone quiet"}
    wrong = site.run(
        "recipes",
        str(site.config),
        "--recipe",
        "inactive-to-winback",
        "--param",
        "to=Win-back 2026",
        "--param",
        "status=Gone",
    )
    assert wrong.exit_code == 2
    assert "has no member status 'Gone'" in wrong.output
