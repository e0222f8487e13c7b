"""A member status never moves down: a member someone put in a campaign by hand at Attended stays at
Attended when a rule writes Registered, on the first sync, on a full sync after it, and when another rule
already holds the higher status."""

from __future__ import annotations

from campaign_bridge.sync.plan import Kind
from tests.sync.world import World

RULE = """
  - name: {name}
    from: {{connection: ma, list: {source}}}
    to: {{connection: crm, campaign: Event, status: {status}}}
    match: {{prefer: contact, create_missing: skip}}
"""


def _event(world: World) -> str:
    return world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])


def _collisions(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.detail for d in report.decisions if d.kind is Kind.STATUS_COLLISION]


def test_a_hand_placed_attended_member_stays_attended_on_the_first_and_on_a_full_sync(world: World) -> None:
    camp, reg = _event(world), world.ma_list("Registrants")
    world.ma.add_member(reg, world.ma_person("ada@x.com"))
    world.crm.add_member(camp, world.crm_person("ada@x.com"), "Attended")  # put there by hand
    cfg = world.config(RULE.format(name="registered", source="Registrants", status="Registered"))

    first = world.sync(cfg, "registered")
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    assert _collisions(first) == ["kept 'Attended' over 'Registered': a member status never moves backwards"]

    again = world.sync(cfg, "registered", full=True)
    assert again.full_read
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    assert again.counts.get("status_changed", 0) == 0
    assert _collisions(again) == ["kept 'Attended' over 'Registered': a member status never moves backwards"]


def test_a_lower_status_from_a_second_rule_names_the_rule_that_holds_the_higher_one(world: World) -> None:
    camp = _event(world)
    reg, att = world.ma_list("Registrants"), world.ma_list("Attendees")
    person = world.ma_person("ada@x.com")
    world.ma.add_member(reg, person)
    world.ma.add_member(att, person)
    world.crm_person("ada@x.com")
    cfg = world.config(
        RULE.format(name="attended", source="Attendees", status="Attended")
        + RULE.format(name="registered", source="Registrants", status="Registered")
    )
    world.sync(cfg, "attended")
    writes_before = world.crm.calls
    report = world.sync(cfg, "registered")
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    # The admin is told which rule keeps the higher status, and nothing is sent to the campaign for it.
    assert _collisions(report) == ["rule 'attended' set 'Attended', which outranks 'Registered': kept 'Attended'"]
    assert report.counts.get("already_member", 0) == 0
    assert world.crm.calls - writes_before <= 2  # the container listing and the source read: no write


def test_a_rule_raised_to_a_higher_status_lifts_a_member_it_added_lower(world: World) -> None:
    # The other side of the promise: a status that should rise, rises, on an incremental run too.
    camp, att = _event(world), world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    world.crm_person("ada@x.com")
    world.sync(world.config(RULE.format(name="r", source="Attendees", status="Registered")), "r")
    assert world.crm_members(camp) == {"ada@x.com": "Registered"}
    report = world.sync(world.config(RULE.format(name="r", source="Attendees", status="Attended")), "r", full=True)
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    assert report.counts.get("status_changed") == 1


def test_a_member_raised_by_hand_after_the_rule_added_them_is_not_lowered_by_a_rule_edited_in_between(
    world: World,
) -> None:
    # The ledger remembers Invited (what the rule wrote); by hand the member was raised to Attended since;
    # then the admin edits the rule to write Registered, which outranks the ledger's Invited but not what
    # the campaign holds now. The campaign keeps Attended, and the admin is told why.
    camp, reg = _event(world), world.ma_list("Registrants")
    world.ma.add_member(reg, world.ma_person("ada@x.com"))
    person = world.crm_person("ada@x.com")
    invited = world.config(RULE.format(name="event", source="Registrants", status="Invited"))
    world.sync(invited, "event")
    assert world.crm_members(camp) == {"ada@x.com": "Invited"}
    world.crm.add_member(camp, person, "Attended")  # raised by hand in the CRM
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    registered = world.config(RULE.format(name="event", source="Registrants", status="Registered"))

    report = world.sync(registered, "event")
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    assert _collisions(report) == ["kept 'Attended' over 'Registered': a member status never moves backwards"]
