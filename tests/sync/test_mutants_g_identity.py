"""Two persons with one email address, and a target that has no record of it.

Two persons of the state store can share an address: one first seen without any (so not found by email
when a second record with the address came), who got it later. Found by mutation testing
(``TargetResolver.finish`` stopping at the first person of an email with no target record): the run then
created one record per person, two contacts with the same address in the target; the mutant created one
and refused the other as "unmatched". One record is created for the address, and it is each of theirs, as a
record the target already had would be.
"""

from __future__ import annotations

from collections.abc import Sequence

from campaign_bridge.mapping.model import PersonRecord
from tests.sync.world import World

RULES = """
  - name: early
    from: {connection: crm, campaign: Other, member_status: [Responded]}
    to: {connection: ma, list: Early}
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
"""


def test_two_persons_sharing_an_address_the_target_lacks_get_one_record_created_for_both(world: World) -> None:
    other, webinar = world.campaign("Other"), world.campaign("Webinar")
    world.ma_list("Early")
    nurture = world.ma_list("Nurture")
    cfg = world.config(RULES)
    # A CRM contact without an address is first seen by another rule: a person with no email.
    first = world.crm_person(None)
    world.crm.add_member(other, first, "Responded")
    world.sync(cfg, "early")
    # It gets the address later; a second contact with the same address appears; both join the webinar.
    world.crm.people[first].email = "ada@x.com"
    world.crm.people[first].modified_at = world.clock()
    second = world.crm_person("ada@x.com")
    world.crm.add_member(webinar, first, "Responded")
    world.crm.add_member(webinar, second, "Responded")

    report = world.sync(cfg, "web")

    assert report.status == "ok", report.message
    assert report.counts.get("unmatched", 0) == 0
    assert [p.email for p in world.ma.people.values()] == ["ada@x.com"]  # one record, not one per person
    assert world.ma_emails(nurture) == {"ada@x.com"}
    created = [d for d in report.decisions if d.kind.value == "created_person"]
    assert {d.detail for d in created} == {f"created ma:contact:{world.ma.person_id('ada@x.com')}"}


CONVERTED_RULE = """
  - name: r
    from: {connection: ma, list: Attendees}
    to: {connection: crm, campaign: Event, status: Attended}
    match: {prefer: lead, create_missing: skip}
"""


def test_a_converted_lead_is_remembered_as_converted_next_to_the_contact_it_became(world: World) -> None:
    """The console lists a person's records per connection (``records_of_email``): the contact the run
    wrote, and the lead it was, known as converted; a later run asks the CRM about neither again."""
    camp = world.campaign("Event", [("Invited", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    lead = world.crm_person("ada@x.com", "Lead")
    contact = world.crm_person("ada@x.com", "Contact")
    world.crm.convert(lead, contact)
    cfg = world.config(CONVERTED_RULE)

    world.sync(cfg, "r")

    assert world.crm.members(camp) == {contact: "Attended"}
    crm = sorted((r["record_id"], r["kind"], r["state"]) for r in world.store.records_of_email("ada@x.com")["crm"])
    assert crm == sorted([(contact, "Contact", "active"), (lead, "Lead", "converted")])

    engine = world.engine(cfg)
    asked: list[str] = []
    real = engine.connectors["crm"].lookup_people

    def counted(emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        asked.extend(emails)
        return real(emails)

    engine.connectors["crm"].lookup_people = counted  # type: ignore[method-assign]
    engine.sync("r", full=True)
    assert asked == []
    assert world.crm.members(camp) == {contact: "Attended"}
