"""The diff (``sync/diff.py``) as a user sees it: who an exclusive slot goes to under each policy and what the
decision log says, a status another rule set, what a mirror rule releases and why."""

from __future__ import annotations

import pytest

from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.sync.plan import Kind, RunReport
from tests.sync.world import World

EXCLUSIVE = """
  - name: {name}
    from: {{connection: crm, campaign: {source}}}
    to: {{connection: ma, campaign: {target}}}
    exclusive: {policy}
    priority: {priority}
"""


def _slots(world: World) -> dict[str, str]:
    world.ma_person("both@x.com")
    pid = world.crm_person("both@x.com")
    for name in ("Spring", "Autumn"):
        world.crm.add_member(world.campaign(name), pid)
    return {
        name: world.ma_list(name, ContainerKind.EXCLUSIVE_CAMPAIGN, family="prospect-campaign")
        for name in ("Spring touch", "Autumn touch")
    }


def _exclusive(world: World, second_policy: str, first_priority: int, second_priority: int) -> RunReport:
    cfg = world.config(
        EXCLUSIVE.format(
            name="spring", source="Spring", target="Spring touch", policy="keep_first", priority=first_priority
        )
        + EXCLUSIVE.format(
            name="autumn", source="Autumn", target="Autumn touch", policy=second_policy, priority=second_priority
        )
    )
    world.sync(cfg, "spring")
    return world.sync(cfg, "autumn")


@pytest.mark.parametrize(
    ("policy", "first", "second", "lands_in", "verdict"),
    [
        ("priority", 100, 10, "Autumn touch", "moved here"),  # the lower number wins
        ("priority", 10, 100, "Spring touch", "kept where they are"),
        ("priority", 50, 50, "Spring touch", "kept where they are"),  # a tie keeps the first
        ("keep_first", 100, 10, "Spring touch", "kept where they are"),
        ("latest_wins", 10, 100, "Autumn touch", "moved here"),
    ],
)
def test_an_exclusive_slot_goes_by_the_policy_and_the_log_says_where_and_why(
    world: World, policy: str, first: int, second: int, lands_in: str, verdict: str
) -> None:
    slots = _slots(world)
    report = _exclusive(world, policy, first, second)
    assert {name: world.ma_emails(lid) for name, lid in slots.items()} == {
        name: ({"both@x.com"} if name == lands_in else set()) for name in slots
    }
    said = [(d.email, d.detail, d.container) for d in report.decisions if d.kind is Kind.EXCLUSIVE_TARGET]
    assert said == [
        (
            "both@x.com",
            f"already in {slots['Spring touch']} through rule 'spring'; {policy}: {verdict}",
            "ma:Autumn touch",
        )
    ]


def test_a_priority_rule_wins_the_slot_from_a_rule_no_longer_in_the_file(world: World) -> None:
    slots = _slots(world)
    first = EXCLUSIVE.format(name="spring", source="Spring", target="Spring touch", policy="keep_first", priority=1)
    second = EXCLUSIVE.format(name="autumn", source="Autumn", target="Autumn touch", policy="priority", priority=500)
    world.sync(world.config(first + second), "spring")
    world.sync(world.config(second), "autumn")  # spring was deleted from the file: it ranks last
    assert world.ma_emails(slots["Autumn touch"]) == {"both@x.com"}
    assert world.ma_emails(slots["Spring touch"]) == set()


TWO_RULES = """
  - name: high
    from: {connection: crm, campaign: Attendees}
    to: {connection: crm, campaign: Event, status: Responded}
  - name: low
    from: {connection: crm, campaign: Invitees}
    to: {connection: crm, campaign: Event, status: Sent}
"""


def test_a_lower_status_than_another_rule_set_is_not_written_and_names_that_rule(world: World) -> None:
    event = world.campaign("Event")
    pid = world.crm_person("ada@x.com")
    for name in ("Attendees", "Invitees"):
        world.crm.add_member(world.campaign(name), pid, "Sent")
    cfg = world.config(TWO_RULES)
    world.sync(cfg, "high")
    report = world.sync(cfg, "low")
    assert world.crm_members(event) == {"ada@x.com": "Responded"}
    said = [(d.email, d.detail, d.container) for d in report.decisions if d.kind is Kind.STATUS_COLLISION]
    assert said == [("ada@x.com", "rule 'high' set 'Responded', which outranks 'Sent': kept 'Responded'", "crm:Event")]
    assert report.counts.get("added", 0) == 0


def test_a_higher_status_than_another_rule_set_is_written(world: World) -> None:
    event = world.campaign("Event")
    pid = world.crm_person("ada@x.com")
    for name in ("Attendees", "Invitees"):
        world.crm.add_member(world.campaign(name), pid, "Sent")
    cfg = world.config(TWO_RULES)
    world.sync(cfg, "low")
    report = world.sync(cfg, "high")
    assert world.crm_members(event) == {"ada@x.com": "Responded"}
    assert not [d for d in report.decisions if d.kind is Kind.STATUS_COLLISION]


MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_a_member_the_rule_did_not_add_is_released_with_the_reason_and_counted(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ada, bob = world.crm_person("ada@x.com"), world.crm_person("bob@x.com")
    for pid in (ada, bob):
        world.crm.add_member(camp, pid)
    world.ma.add_member(lst, world.ma_person("ada@x.com"))  # there before the rule: not its own
    world.ma_person("bob@x.com")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    for pid in (ada, bob):
        world.crm.remove_member(camp, pid)
    report = world.sync(cfg, "web")
    assert world.ma_emails(lst) == {"ada@x.com"}
    said = [(d.email, d.detail, d.container) for d in report.decisions if d.kind is Kind.LEFT_IN_PLACE]
    assert said == [("ada@x.com", "no longer in the source, but this rule did not add it: left in place", "ma:Nurture")]
    assert report.counts.get("released") == 1
    assert report.counts.get("removed") == 1


STATUS_MAP = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: crm, campaign: Event, status_map: {Sent: Invited, Responded: Attended}}
"""


@pytest.mark.parametrize(("lead_status", "contact_status"), [("Responded", "Sent"), ("Sent", "Responded")])
def test_a_person_in_the_source_twice_gets_the_higher_mapped_status(
    world: World, lead_status: str, contact_status: str
) -> None:
    camp = world.campaign("Webinar")
    event = world.campaign("Event", [("Invited", False), ("Attended", True)])
    world.crm.add_member(camp, world.crm_person("ada@x.com", "Lead"), lead_status)
    world.crm.add_member(camp, world.crm_person("ada@x.com"), contact_status)
    report = world.sync(world.config(STATUS_MAP), "web")
    assert report.status == "ok"
    assert world.crm_members(event) == {"ada@x.com": "Attended"}


@pytest.mark.parametrize(("first", "second"), [("Sent", "Sent"), ("Responded", "Responded")])
def test_a_person_in_the_source_twice_at_one_status_gets_its_mapped_status(
    world: World, first: str, second: str
) -> None:
    camp = world.campaign("Webinar")
    event = world.campaign("Event", [("Invited", False), ("Attended", True)])
    world.crm.add_member(camp, world.crm_person("ada@x.com", "Lead"), first)
    world.crm.add_member(camp, world.crm_person("ada@x.com"), second)
    world.sync(world.config(STATUS_MAP), "web")
    want = {"Sent": "Invited", "Responded": "Attended"}[first]
    assert world.crm_members(event) == {"ada@x.com": want}
