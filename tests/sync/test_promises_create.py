"""``create_missing``: people the target lacks are created as the rule says (a Lead or a Contact in a CRM,
a contact in a marketing system by default), in batches, each logged; one the target refuses is reported
with the target's reason while the rest are created and added."""

from __future__ import annotations

import pytest

from campaign_bridge.sync.plan import Kind
from tests.sync.world import World

TO_CRM = """
  - name: att
    from: {{connection: ma, list: Attendees}}
    to: {{connection: crm, campaign: Event, status: Attended}}
    match: {{create_missing: {create}}}
"""


@pytest.mark.parametrize(("create", "kind"), [("lead", "Lead"), ("contact", "Contact")])
def test_missing_people_are_created_in_the_crm_as_the_rule_says_past_one_batch(
    world: World, create: str, kind: str
) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    emails = [f"p{i:03}@x.com" for i in range(230)]
    for email in [*emails, "bad name@x.com"]:
        world.ma.add_member(att, world.ma_person(email))

    report = world.sync(world.config(TO_CRM.format(create=create)), "att")

    created = {p.email: p for p in world.crm.people.values()}
    assert set(created) == set(emails)
    assert {p.kind for p in created.values()} == {kind}
    assert set(world.crm_members(camp)) == set(emails)
    logged = {d.email: d.detail for d in report.decisions if d.kind is Kind.CREATED_PERSON}
    assert logged == {e: f"created crm:{kind}:{created[e].id}" for e in emails}
    refused = [(d.email, d.detail) for d in report.decisions if d.kind is Kind.REJECTED_RECORD]
    assert refused == [
        (
            "bad name@x.com",
            "the target refused to create this person: INVALID_EMAIL_ADDRESS: invalid email: 'bad name@x.com'",
        )
    ]
    assert report.counts["added"] == 230
    assert report.counts["unmatched"] == 1


def test_a_marketing_target_creates_missing_contacts_unless_told_to_skip(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("new@x.com"), "Responded")
    rule = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
"""
    world.sync(world.config(rule), "web")
    assert world.ma_emails(lst) == {"new@x.com"}
    assert {p.kind for p in world.ma.people.values()} == {"contact"}

    world.crm.add_member(camp, world.crm_person("other@x.com"), "Responded")
    skip = world.config(rule.replace("name: web", "name: web2") + "    match: {create_missing: skip}\n")
    report = world.sync(skip, "web2")
    assert "other@x.com" not in world.ma_emails(lst)
    assert [(d.email, d.detail) for d in report.decisions if d.kind is Kind.UNMATCHED_PERSON] == [
        ("other@x.com", "no record with this email in the target, and the rule says create_missing: skip")
    ]
