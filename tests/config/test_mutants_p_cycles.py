"""Which rule loops ``validate`` finds, once per tangle, at which rule, and which containers are one.

``test_cycles.py`` holds the tangles of hundreds of rules; these are the small shapes where a search that
loses its place, or a container identity that slips, shows. They sit beside the loader's tests so that a
mutation run of ``config/cycles.py`` reaches them first.
"""

from __future__ import annotations

import pytest

from campaign_bridge.config.cycles import cycle_message, offline_identity, rule_cycles
from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig, Rule
from campaign_bridge.errors import ConfigError
from tests.config.test_cycles import SALESFORCE

HEAD = "client: x\nconnections:\n  crm: {type: memory-crm}\n  ma: {type: memory-ma}\nrules:\n"  # 5 lines


def _load(text: str, environ: dict[str, str] | None = None) -> ClientConfig:
    return load_config_text(text, "c.yaml", environ or {})


def _problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        _load(text, environ)
    return [str(p) for p in refused.value.problems]


def _rule(name: str, source: str, target: str) -> str:
    return f"  - {{name: {name}, from: {{{source}}}, to: {{{target}}}}}\n"


def test_a_chain_of_rules_each_feeding_the_next_is_not_a_loop() -> None:
    rules = (
        _rule("a", "connection: crm, campaign: C1", "connection: ma, list: L1")
        + _rule("b", "connection: ma, list: L1", "connection: crm, campaign: C2, status: Sent")
        + _rule("c", "connection: crm, campaign: C2", "connection: ma, list: L2")
        + _rule("d", "connection: ma, list: L2", "connection: crm, campaign: C3, status: Sent")
    )
    assert [rule.name for rule in _load(HEAD + rules).rules] == ["a", "b", "c", "d"]


def test_rules_meeting_at_one_list_without_a_way_back_are_not_a_loop() -> None:
    # C fills L directly and through P: two paths to L, none back to C.
    rules = (
        _rule("direct", "connection: crm, campaign: C", "connection: ma, list: L")
        + _rule("staged", "connection: crm, campaign: C", "connection: ma, program: P, status: Invited")
        + _rule("promote", "connection: ma, program: P", "connection: ma, list: L")
    )
    assert len(_load(HEAD + rules).rules) == 3


def test_a_loop_through_a_containers_second_rule_is_found() -> None:
    # C's first rule leads nowhere; the loop leaves C by its second.
    rules = (
        _rule("dead-end", "connection: crm, campaign: C", "connection: ma, list: L1")
        + _rule("out", "connection: crm, campaign: C", "connection: ma, list: L2")
        + _rule("back", "connection: ma, list: L2", "connection: crm, campaign: C, status: Sent")
    )
    assert _problems(HEAD + rules) == [
        "c.yaml:7: rule cycle: out → back → out (each rule feeds the next one's source; break the loop)"
    ]


def test_a_loop_entered_through_a_list_whose_first_rule_leads_back_to_a_finished_branch_is_found_alone() -> None:
    # Webinar fills Archive, then Invited; Invited's first rule goes to Archive (already searched), its
    # second starts the loop. Only out and back are in it: not invite, which merely enters it.
    rules = (
        _rule("archive", "connection: crm, campaign: Webinar", "connection: ma, list: Archive")
        + _rule("invite", "connection: crm, campaign: Webinar", "connection: ma, list: Invited")
        + _rule("archive-invited", "connection: ma, list: Invited", "connection: ma, list: Archive")
        + _rule("out", "connection: ma, list: Invited", "connection: crm, campaign: Followup, status: Sent")
        + _rule("back", "connection: crm, campaign: Followup", "connection: ma, list: Invited")
    )
    assert _problems(HEAD + rules) == [
        "c.yaml:9: rule cycle: out → back → out (each rule feeds the next one's source; break the loop)"
    ]


def test_a_loop_after_a_segment_rule_is_still_found() -> None:
    rules = (
        _rule("scored", "connection: crm, segment: {field: score, gte: 50}", "connection: ma, list: Hot")
        + _rule("out", "connection: crm, campaign: C", "connection: ma, list: L")
        + _rule("back", "connection: ma, list: L", "connection: crm, campaign: C, status: Sent")
    )
    assert _problems(HEAD + rules) == [
        "c.yaml:7: rule cycle: out → back → out (each rule feeds the next one's source; break the loop)"
    ]


def test_a_segment_target_is_refused_but_not_taken_for_a_loop_with_a_segment_source() -> None:
    # Both name a segment of ``ma``; a segment is a filter, so nothing flows from one rule to the other.
    rules = _rule(
        "scored", "connection: ma, segment: {field: score, gte: 50}", "connection: crm, campaign: C, status: Hot"
    ) + _rule("wrong", "connection: crm, campaign: C", "connection: ma, segment: {field: score, gte: 50}")
    assert _problems(HEAD + rules) == [
        "c.yaml:7: a segment can only be a source: it is a filter, not a container",
    ]


def test_live_validate_lists_the_loops_in_the_order_of_their_first_rule() -> None:
    # Offline the problems are sorted by line; live ``validate`` reports what ``rule_cycles`` returns, as it is.
    # ``first``'s loop closes through the last rule, ``second``'s through the third: still ``first``'s first.
    raw = [
        ("first", {"connection": "crm", "campaign": "C1"}, {"connection": "ma", "list": "L1"}),
        ("second", {"connection": "crm", "campaign": "C2"}, {"connection": "ma", "list": "L2"}),
        ("second-back", {"connection": "ma", "list": "L2"}, {"connection": "crm", "campaign": "C2", "status": "S"}),
        ("first-back", {"connection": "ma", "list": "L1"}, {"connection": "crm", "campaign": "C1", "status": "S"}),
    ]
    rules = [Rule.model_validate({"name": name, "from": source, "to": target}) for name, source, target in raw]
    names = [rule.name for rule in rules]
    identity = offline_identity({"crm": "memory-crm", "ma": "memory-ma"})

    assert [cycle_message(loop, names) for loop in rule_cycles(rules, identity)] == [
        "rule cycle: first → first-back → first (each rule feeds the next one's source; break the loop)",
        "rule cycle: second → second-back → second (each rule feeds the next one's source; break the loop)",
    ]


def test_an_id_with_capitals_in_every_chunk_is_one_campaign_in_both_forms() -> None:
    # Capitals at the first place of the second and third chunks, and Y and Z among them: each counts.
    text = SALESFORCE.replace("READ", "701DnZ000YZbCdZIRV").replace("WRITE", "701DnZ000YZbCdZ")
    assert _problems(text, {"SF_SESSION": "x"}) == [
        "c.yaml:9: rule cycle: a → b → a (each rule feeds the next one's source; break the loop)"
    ]


def test_an_18_character_name_with_spaces_is_a_name_even_when_its_end_looks_like_a_checksum() -> None:
    # "BIA" is what an id starting "Webinar Q3 2026" would end with; an id has no spaces.
    text = SALESFORCE.replace("READ", "Webinar Q3 2026BIA").replace("WRITE", "Webinar Q3 2026")
    assert [rule.name for rule in _load(text, {"SF_SESSION": "x"}).rules] == ["a", "b"]
