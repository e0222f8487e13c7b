"""The canonical model's rules a user sees the effect of: how emails match, which record a converted or
merged person's membership follows, a campaign's statuses by name and default, and that a status never
moves down (mapping/model.py)."""

from __future__ import annotations

from campaign_bridge.mapping.model import (
    Container,
    ContainerKind,
    MemberStatus,
    PersonRecord,
    RecordRef,
    normalise_email,
)


def test_emails_match_trimmed_and_case_insensitively() -> None:
    assert normalise_email("  Ann.Lee@Example.COM \n") == "ann.lee@example.com"
    assert normalise_email("a b@x.com") == "a b@x.com"  # kept: the target refuses it, visibly
    assert normalise_email("   ") is None
    assert normalise_email("") is None
    assert normalise_email(None) is None


def test_a_record_is_written_connection_kind_id() -> None:
    assert str(RecordRef("sf-prod", "Contact", "003A")) == "sf-prod:Contact:003A"


def test_membership_follows_the_conversion_then_the_merge_then_the_record() -> None:
    ref, contact, survivor = (
        RecordRef("sf", "Lead", "00Q1"),
        RecordRef("sf", "Contact", "0031"),
        RecordRef("sf", "Lead", "00Q9"),
    )
    assert PersonRecord(ref, "a@x.com").survivor == ref
    assert PersonRecord(ref, "a@x.com", merged_into=survivor).survivor == survivor
    assert PersonRecord(ref, "a@x.com", converted_to=contact).survivor == contact
    assert PersonRecord(ref, "a@x.com", converted_to=contact, merged_into=survivor).survivor == contact


def _campaign(*statuses: MemberStatus) -> Container:
    return Container("sf", "701A", "Webinar", ContainerKind.CAMPAIGN, has_status=True, statuses=statuses)


SENT, REGISTERED, ATTENDED = (
    MemberStatus("Sent", rank=0),
    MemberStatus("Registered", rank=1),
    MemberStatus("Attended", responded=True, rank=2),
)


def test_a_status_is_found_by_its_label_in_any_case() -> None:
    campaign = _campaign(SENT, REGISTERED, ATTENDED)
    assert campaign.status("attended") is ATTENDED
    assert campaign.status("REGISTERED") is REGISTERED
    assert campaign.status("Sent") is SENT
    assert campaign.status("No-show") is None


def test_the_default_status_is_the_marked_one_else_the_first() -> None:
    marked = MemberStatus("Registered", default=True, rank=1)
    assert _campaign(SENT, marked, ATTENDED).default_status is marked
    assert _campaign(SENT, REGISTERED).default_status is SENT
    assert _campaign().default_status is None


def test_a_status_never_moves_down() -> None:
    campaign = _campaign(SENT, REGISTERED, ATTENDED)
    assert campaign.outranks("Attended", "Registered")
    assert campaign.outranks("Registered", "Sent")
    assert not campaign.outranks("Registered", "Attended")
    assert not campaign.outranks("Registered", "Registered")
    assert not campaign.outranks(None, "Sent")
    assert not campaign.outranks("Attended", None)


def test_a_status_the_campaign_does_not_list_ranks_with_the_first() -> None:
    campaign = _campaign(SENT, REGISTERED, ATTENDED)
    # a status set by hand that the campaign no longer lists is not held above the lowest one
    assert not campaign.outranks("Mystery", "Sent")
    assert not campaign.outranks("Sent", "Mystery")
    # and writing such a status over a ranked one would move the member down
    assert campaign.outranks("Registered", "Mystery")
