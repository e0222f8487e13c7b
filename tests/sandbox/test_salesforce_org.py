"""The emulated org's platform behaviour: member statuses, rollups, timestamps, conversion, cascades."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from campaign_bridge.sandbox.salesforce import RecordError, SalesforceState
from campaign_bridge.sandbox.salesforce.query import compile_query
from campaign_bridge.sandbox.salesforce.values import format_datetime


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def org(clock: Clock) -> SalesforceState:
    return SalesforceState(clock=clock)


def test_a_new_campaign_gets_sent_and_responded(org: SalesforceState) -> None:
    campaign = org.add_campaign("Webinar")
    bound = compile_query(
        org,
        f"SELECT Label, IsDefault, HasResponded, SortOrder FROM CampaignMemberStatus "
        f"WHERE CampaignId = '{campaign}' ORDER BY SortOrder",
    )
    rows = [(r["Label"], r["IsDefault"], r["HasResponded"], r["SortOrder"]) for r in bound.run(include_deleted=False)]
    assert rows == [("Sent", True, False, 1), ("Responded", False, True, 2)]


def test_changes_are_stamped_from_the_org_clock(org: SalesforceState, clock: Clock) -> None:
    campaign = org.add_campaign("Stamps")
    member = org.add_member(campaign, org.add_contact("a@x.com"))
    created = org.get(member)
    assert created is not None
    assert format_datetime(created["SystemModstamp"]) == "2024-05-01T10:00:00.123+0000"

    clock.now += timedelta(minutes=5)
    org.set_member_status(member, "Responded")
    changed = org.get(member)
    assert changed is not None
    assert changed["CreatedDate"] == created["CreatedDate"]
    assert (
        changed["LastModifiedDate"] == changed["SystemModstamp"] == datetime(2024, 5, 1, 10, 5, 0, 123000, tzinfo=UTC)
    )
    assert (changed["HasResponded"], changed["FirstRespondedDate"]) == (True, date(2024, 5, 1))


def test_rollups_follow_adds_status_changes_and_removals(org: SalesforceState) -> None:
    campaign = org.add_campaign("Rollups")
    lead_member = org.add_member(campaign, org.add_lead("l@x.com"), "Responded")
    contact_member = org.add_member(campaign, org.add_contact("c@x.com"))
    org.bulk_add_members(campaign, org.bulk_add_contacts(["d@x.com", "e@x.com"]), "Responded")
    org.set_member_status(contact_member, "Responded")
    org.remove_member(lead_member)

    rollup = org.get(campaign)
    assert rollup is not None
    assert (rollup["NumberOfLeads"], rollup["NumberOfContacts"], rollup["NumberOfResponses"]) == (0, 3, 3)


def test_a_removed_member_can_join_again(org: SalesforceState) -> None:
    campaign = org.add_campaign("Again")
    contact = org.add_contact("again@x.com")
    org.remove_member(org.add_member(campaign, contact))
    org.add_member(campaign, contact, "Responded")
    assert org.members(campaign) == {contact: "Responded"}


def test_lead_conversion_moves_memberships_to_the_contact(org: SalesforceState) -> None:
    campaign = org.add_campaign("Converted")
    lead = org.add_lead("lead@x.com", first_name="Lee", company="Initech")
    member = org.add_member(campaign, lead, "Responded")

    contact = org.convert_lead(lead)

    converted, moved, person = org.get(lead), org.get(member), org.get(contact)
    assert converted is not None
    assert moved is not None
    assert person is not None
    assert (converted["IsConverted"], converted["ConvertedContactId"]) == (True, contact)
    assert (moved["LeadId"], moved["ContactId"], moved["Type"], moved["LeadOrContactId"]) == (
        lead,
        contact,
        "Contact",
        contact,
    )
    assert person["Email"] == "lead@x.com"
    assert person["AccountId"] is not None
    assert org.members(campaign) == {contact: "Responded"}
    with pytest.raises(RecordError) as caught:
        org.add_member(org.add_campaign("Later"), lead)
    assert caught.value.code == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_member_references_cannot_be_changed(org: SalesforceState) -> None:
    campaign = org.add_campaign("Fixed")
    member = org.add_member(campaign, org.add_contact("a@x.com"))
    with pytest.raises(RecordError) as caught:
        org.update(member, CampaignId=org.add_campaign("Other"))
    assert caught.value.code == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert caught.value.fields == ["CampaignId"]


def test_deleting_a_contact_deletes_its_memberships(org: SalesforceState) -> None:
    campaign = org.add_campaign("Cascade")
    contact = org.add_contact("bye@x.com")
    member = org.add_member(campaign, contact)
    org.delete(contact)
    assert org.members(campaign) == {}
    gone = org.get(member)
    assert gone is not None
    assert gone["IsDeleted"] is True


def test_invalid_email_is_rejected(org: SalesforceState) -> None:
    with pytest.raises(RecordError) as caught:
        org.add_contact("not an email")
    assert caught.value.code == "INVALID_EMAIL_ADDRESS"


def test_default_status_can_be_moved(org: SalesforceState) -> None:
    campaign = org.add_campaign("Event", statuses=[("Invited", False), ("Registered", False), ("Attended", True)])
    org.create("CampaignMemberStatus", CampaignId=campaign, Label="Waitlisted", IsDefault=True)
    assert org.members(campaign) == {}
    contact = org.add_contact("w@x.com")
    org.add_member(campaign, contact)
    assert org.members(campaign) == {contact: "Waitlisted"}


def test_bulk_seeding_refuses_bad_input_and_adds_nothing(org: SalesforceState) -> None:
    campaign = org.add_campaign("Seed")
    people = org.bulk_add_contacts(["a@x.com", "b@x.com"])
    org.add_member(campaign, people[1])
    with pytest.raises(ValueError, match="already a member"):
        org.bulk_add_members(campaign, people)
    with pytest.raises(ValueError, match="member status"):
        org.bulk_add_members(campaign, people[:1], "Attended")
    with pytest.raises(ValueError, match="live"):
        org.bulk_add_members(campaign, [people[0][:-3] + "ZZZ"])
    assert org.members(campaign) == {people[1]: "Sent"}
