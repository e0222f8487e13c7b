"""What the decision log says when a person's email matches several target records, and the crosswalk
that spares the target a second lookup of a person it already answered for."""

from __future__ import annotations

from collections.abc import Sequence

from campaign_bridge.mapping.model import PersonRecord
from campaign_bridge.sync.plan import Kind
from tests.sync.world import World

RULE = """
  - name: r
    from: {connection: ma, list: Attendees}
    to: {connection: crm, campaign: Event, status: Attended}
    match: {prefer: lead, create_missing: skip}
"""


def test_an_ambiguous_email_is_logged_against_the_person_naming_the_record_chosen_and_the_others(
    world: World,
) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("dup@x.com"))
    contact = world.crm_person("dup@x.com", "Contact")
    lead = world.crm_person("dup@x.com", "Lead")
    other = world.crm_person("dup@x.com", "Contact")

    report = world.sync(world.config(RULE), "r")

    assert world.crm.members(camp) == {lead: "Attended"}
    (ambiguous,) = [d for d in report.decisions if d.kind is Kind.AMBIGUOUS_IDENTITY]
    assert ambiguous.person_key is not None
    assert ambiguous.email == "dup@x.com"
    assert ambiguous.detail == (
        f"3 records share this email; chose crm:Lead:{lead} (prefer lead) over crm:Contact:{contact}, "
        f"crm:Contact:{other}"
    )


def test_a_second_run_asks_the_target_about_no_one_it_has_already_found(world: World) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    contact = world.crm_person("ada@x.com", "Contact")
    cfg = world.config(RULE)
    world.sync(cfg, "r")
    assert world.crm.members(camp) == {contact: "Attended"}

    engine = world.engine(cfg)
    crm = engine.connectors["crm"]
    asked: list[str] = []
    real = crm.lookup_people

    def counted(emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        asked.extend(emails)
        return real(emails)

    crm.lookup_people = counted  # type: ignore[method-assign]
    engine.sync("r", full=True)

    assert asked == []
    assert world.crm.members(camp) == {contact: "Attended"}
