"""What a rule file may name in each system, and the refusal a user reads when a rule targets a container
nobody can write (mapping/semantics.py, read by the config checks and the engine's target step)."""

from __future__ import annotations

import pytest

from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.mapping.semantics import kinds_for, static_target_refusal, target_refusal

HUBSPOT_DYNAMIC = (
    "a DYNAMIC (active) HubSpot list is computed by the system from its own filter, so nobody can add or remove "
    "members; use it as a rule's source, or target a MANUAL or SNAPSHOT list"
)


def test_the_kinds_a_key_names_in_a_system() -> None:
    assert [k.kind for k in kinds_for("salesforce", "campaign")] == [ContainerKind.CAMPAIGN]
    assert [k.kind for k in kinds_for("hubspot", "list")] == [ContainerKind.STATIC_LIST, ContainerKind.DYNAMIC_LIST]
    assert kinds_for("salesforce", "list") == ()
    assert kinds_for("no-such-system", "list") == ()


def test_a_dynamic_list_as_target_is_refused_saying_what_to_target_instead() -> None:
    assert target_refusal("hubspot", ContainerKind.DYNAMIC_LIST) == HUBSPOT_DYNAMIC
    assert target_refusal("marketo", ContainerKind.DYNAMIC_LIST) == (
        "a Marketo smart list is computed by the system from its own filter, so nobody can add or remove "
        "members; use it as a rule's source, or target a static list (or a program, to carry a status)"
    )


def test_writable_containers_are_not_refused() -> None:
    assert target_refusal("hubspot", ContainerKind.STATIC_LIST) is None
    assert target_refusal("salesforce", ContainerKind.CAMPAIGN) is None
    assert target_refusal("memory-ma", ContainerKind.EXCLUSIVE_CAMPAIGN) is None
    assert target_refusal("marketo", ContainerKind.PROGRAM) is None


def test_the_second_kind_of_a_key_is_found_too() -> None:
    # memory-ma's "campaign" names an exclusive campaign first, then an email send
    assert target_refusal("memory-ma", ContainerKind.EMAIL_SEND) == (
        "this campaign is an email send, not a group of people; target a list instead"
    )


def test_an_unknown_system_or_kind_is_named_in_the_refusal() -> None:
    assert target_refusal("no-such-system", ContainerKind.CAMPAIGN) == "unknown system 'no-such-system'"
    assert target_refusal("salesforce", ContainerKind.TAG) == (
        "a tag is not a container campaign-bridge knows in salesforce"
    )


def test_a_key_a_system_does_not_have_lists_the_keys_it_has() -> None:
    assert static_target_refusal("salesforce", "list") == "salesforce has no 'list' containers; it has: campaign"
    assert static_target_refusal("memory-ma", "tag") == (
        "memory-ma has no 'tag' containers; it has: list, campaign, program"
    )
    assert static_target_refusal("no-such-system", "list") == "no-such-system has no 'list' containers; it has: "


@pytest.mark.parametrize(
    ("system", "key", "refusal"),
    [
        (
            "hubspot",
            "campaign",
            "a HubSpot campaign groups assets (emails, forms, pages) and has no members; target a MANUAL list instead",
        ),
        (
            "marketo",
            "smart_campaign",
            "a Marketo smart campaign is a flow that runs when someone does something; it has no members to write; "
            "target a static list, or a program with a status",
        ),
        ("hubspot", "list", None),  # one of its kinds (a MANUAL list) can be written
        ("memory-ma", "campaign", None),
        ("salesforce", "campaign", None),
    ],
)
def test_a_key_whose_every_kind_is_unwritable_is_refused_from_the_file_alone(
    system: str, key: str, refusal: str | None
) -> None:
    assert static_target_refusal(system, key) == refusal
