"""Identity promises a user relies on: a converted lead's membership lands on the contact it became."""

from __future__ import annotations

from tests.sync.world import World

RULE = """
  - name: {name}
    from: {{connection: ma, list: {source}}}
    to: {{connection: crm, campaign: {campaign}, status: Attended}}
    match: {{prefer: lead, create_missing: skip}}
"""


def _event(world: World, name: str = "Event") -> str:
    return world.campaign(name, [("Invited", False), ("Registered", False), ("Attended", True)])


def test_prefer_lead_follows_a_converted_lead_to_its_contact_even_under_another_email(world: World) -> None:
    camp, att = _event(world), world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    lead = world.crm_person("ada@x.com", "Lead")
    # The contact the lead became carries another address: only the conversion link leads there.
    contact = world.crm_person("ada@newco.com", "Contact")
    world.crm.convert(lead, contact)
    world.sync(world.config(RULE.format(name="r", source="Attendees", campaign="Event")), "r")
    assert world.crm.members(camp) == {contact: "Attended"}


def test_prefer_lead_writes_the_contact_once_a_known_lead_is_converted(world: World) -> None:
    first, second = _event(world), _event(world, "Follow-up")
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    lead = world.crm_person("ada@x.com", "Lead")
    cfg = world.config(
        RULE.format(name="first", source="Attendees", campaign="Event")
        + RULE.format(name="second", source="Attendees", campaign="Follow-up")
    )
    world.sync(cfg, "first")
    assert world.crm.members(first) == {lead: "Attended"}
    contact = world.crm_person("ada@newco.com", "Contact")
    world.crm.convert(lead, contact)
    world.sync(cfg, "second")
    assert world.crm.members(second) == {contact: "Attended"}


def test_prefer_lead_puts_the_lead_in_when_a_lead_and_a_contact_share_the_email(world: World) -> None:
    camp, att = _event(world), world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("dup@x.com"))
    world.crm_person("dup@x.com", "Contact")  # created first: the lower id
    lead = world.crm_person("dup@x.com", "Lead")
    world.sync(world.config(RULE.format(name="r", source="Attendees", campaign="Event")), "r")
    assert world.crm.members(camp) == {lead: "Attended"}
