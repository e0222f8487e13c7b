"""An exclusive slot held through a rule no longer in the file (``sync/diff.py``): with ``exclusive: priority``
that rule ranks below every rule in the file, whatever number a rule's ``priority`` is. It used to rank as
priority 1,000,000, so a rule numbered that or higher left the member where the deleted rule had put them."""

from __future__ import annotations

import pytest

from campaign_bridge.mapping.model import ChangeOutcome, ContainerKind, OutcomeState
from campaign_bridge.sync.plan import Kind
from campaign_bridge.sync.store.states import LedgerState
from tests.sync.test_mutants_diff import TWO_RULES as TWO_STATUSES
from tests.sync.test_promises_ownership import RULES as SHARED
from tests.sync.world import World

EXCLUSIVE = """
  - name: {name}
    from: {{connection: crm, campaign: {source}}}
    to: {{connection: ma, campaign: {target}}}
    exclusive: {policy}
    priority: {priority}
"""


@pytest.mark.parametrize("priority", [1_000_000, 5_000_000])
def test_a_priority_rule_of_any_number_wins_the_slot_from_a_rule_no_longer_in_the_file(
    world: World, priority: int
) -> None:
    world.ma_person("both@x.com")
    pid = world.crm_person("both@x.com")
    for name in ("Spring", "Autumn"):
        world.crm.add_member(world.campaign(name), pid)
    spring, autumn = (
        world.ma_list(name, ContainerKind.EXCLUSIVE_CAMPAIGN, family="prospect-campaign")
        for name in ("Spring touch", "Autumn touch")
    )
    first = EXCLUSIVE.format(name="spring", source="Spring", target="Spring touch", policy="keep_first", priority=1)
    second = EXCLUSIVE.format(
        name="autumn", source="Autumn", target="Autumn touch", policy="priority", priority=priority
    )
    world.sync(world.config(first + second), "spring")
    assert world.ma_emails(spring) == {"both@x.com"}

    report = world.sync(world.config(second), "autumn")  # spring was deleted from the file

    assert world.ma_emails(autumn) == {"both@x.com"}
    assert world.ma_emails(spring) == set()
    said = [d.detail for d in report.decisions if d.kind is Kind.EXCLUSIVE_TARGET]
    assert said == [f"already in {spring} through rule 'spring'; priority: moved here"]


def test_a_member_kept_for_another_rule_is_logged_naming_that_rule(world: World) -> None:
    webinar, event, lst = world.campaign("Webinar"), world.campaign("Event"), world.ma_list("Nurture")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(webinar, ada, "Responded")
    world.crm.add_member(event, ada, "Responded")
    cfg = world.config(SHARED)
    world.sync(cfg, "webinar")
    world.sync(cfg, "event")
    world.crm.remove_member(webinar, ada)

    left = world.sync(cfg, "webinar")

    assert world.ma_emails(lst) == {"ada@x.com"}
    said = [(d.kind, d.email, d.detail, d.container) for d in left.decisions]
    assert said == [
        (
            Kind.KEPT_FOR_OTHER_RULE,
            "ada@x.com",
            "no longer in this rule's source, but rule 'event' also wants this member: kept",
            "ma:Nurture",
        )
    ]


SAME_STATUS = """
  - name: attendees
    from: {connection: crm, campaign: Attendees}
    to: {connection: crm, campaign: Event, status: Sent}
    mode: mirror
  - name: invitees
    from: {connection: crm, campaign: Invitees}
    to: {connection: crm, campaign: Event, status: Sent}
    mode: mirror
"""


def test_a_second_rule_writing_the_same_status_shares_the_member_and_keeps_them_when_the_first_lets_go(
    world: World,
) -> None:
    event, attendees = world.campaign("Event"), world.campaign("Attendees")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(attendees, ada, "Sent")
    world.crm.add_member(world.campaign("Invitees"), ada, "Sent")
    cfg = world.config(SAME_STATUS)
    world.sync(cfg, "attendees")

    second = world.sync(cfg, "invitees")  # the same status is no collision

    assert not [d for d in second.decisions if d.kind is Kind.STATUS_COLLISION]
    world.crm.remove_member(attendees, ada)
    left = world.sync(cfg, "attendees")
    assert world.crm_members(event) == {"ada@x.com": "Sent"}  # invitees still wants her
    assert [d.kind for d in left.decisions if d.email == "ada@x.com"] == [Kind.KEPT_FOR_OTHER_RULE]


def test_a_status_collision_does_not_stop_the_people_after_it_from_being_added(world: World) -> None:
    event, invitees = world.campaign("Event"), world.campaign("Invitees")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(world.campaign("Attendees"), ada, "Sent")
    cfg = world.config(TWO_STATUSES)
    world.sync(cfg, "high")  # ada is known first: her person key sorts before those made later
    world.crm.add_member(invitees, ada, "Sent")
    for name in ("bob", "cy", "dee"):
        world.crm.add_member(invitees, world.crm_person(f"{name}@x.com"), "Sent")

    report = world.sync(cfg, "low")

    assert world.crm_members(event) == {
        "ada@x.com": "Responded",
        "bob@x.com": "Sent",
        "cy@x.com": "Sent",
        "dee@x.com": "Sent",
    }
    assert [d.email for d in report.decisions if d.kind is Kind.STATUS_COLLISION] == ["ada@x.com"]


def test_a_member_kept_in_another_exclusive_slot_does_not_stop_the_people_after_them(world: World) -> None:
    world.ma_person("ada@x.com")
    ada = world.crm_person("ada@x.com")
    spring_src, autumn_src = world.campaign("Spring"), world.campaign("Autumn")
    world.crm.add_member(spring_src, ada)
    spring, autumn = (
        world.ma_list(name, ContainerKind.EXCLUSIVE_CAMPAIGN, family="prospect-campaign")
        for name in ("Spring touch", "Autumn touch")
    )
    cfg = world.config(
        EXCLUSIVE.format(name="spring", source="Spring", target="Spring touch", policy="keep_first", priority=1)
        + EXCLUSIVE.format(name="autumn", source="Autumn", target="Autumn touch", policy="keep_first", priority=1)
    )
    world.sync(cfg, "spring")  # ada is known first: her person key sorts before those made later
    world.crm.add_member(autumn_src, ada)
    for name in ("bob", "cy"):
        world.ma_person(f"{name}@x.com")
        world.crm.add_member(autumn_src, world.crm_person(f"{name}@x.com"))

    report = world.sync(cfg, "autumn")

    assert world.ma_emails(spring) == {"ada@x.com"}
    assert world.ma_emails(autumn) == {"bob@x.com", "cy@x.com"}
    assert [d.email for d in report.decisions if d.kind is Kind.EXCLUSIVE_TARGET] == ["ada@x.com"]


STATUS_RULE = """
  - name: registered
    from: {connection: ma, list: Registrants}
    to: {connection: crm, campaign: Event, status: Registered}
    match: {prefer: contact, create_missing: skip}
"""


def test_a_status_kept_over_the_rules_lower_one_is_logged_at_the_target_on_a_full_sync(world: World) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    reg = world.ma_list("Registrants")
    world.ma.add_member(reg, world.ma_person("ada@x.com"))
    world.crm.add_member(camp, world.crm_person("ada@x.com"), "Attended")  # put there by hand
    cfg = world.config(STATUS_RULE)
    world.sync(cfg, "registered")

    again = world.sync(cfg, "registered", full=True)  # the ledger now holds Attended: the diff keeps it

    said = [(d.email, d.detail, d.container) for d in again.decisions if d.kind is Kind.STATUS_COLLISION]
    assert said == [
        ("ada@x.com", "kept 'Attended' over 'Registered': a member status never moves backwards", "crm:Event")
    ]


FILTERED = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_a_source_member_who_never_qualified_does_not_stop_the_removals_after_them(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    cfg = world.config(FILTERED)
    world.crm.add_member(camp, world.crm_person("sent@x.com"), "Sent")  # in the campaign, never selected
    world.sync(cfg, "web")  # sent@ is known first: their person key sorts before those made later
    leaving = [world.crm_person(f"{name}@x.com") for name in ("ann", "bob")]
    for pid in leaving:
        world.crm.add_member(camp, pid, "Responded")
    world.sync(cfg, "web")
    assert world.ma_emails(lst) == {"ann@x.com", "bob@x.com"}
    for pid in leaving:
        world.crm.remove_member(camp, pid)

    report = world.sync(cfg, "web", full=True)

    assert world.ma_emails(lst) == set()
    assert sorted(i.email or "" for i in report.removals) == ["ann@x.com", "bob@x.com"]


ADDITIVE = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: additive
"""


def test_an_additive_rule_still_plans_the_leavers_after_a_member_it_keeps(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    cfg = world.config(ADDITIVE)
    kept = world.crm_person("kept@x.com")
    world.crm.add_member(camp, kept, "Sent")
    world.sync(cfg, "web")  # kept@ is known first: their person key sorts before those made later
    engine = world.engine(cfg)
    real = engine.connectors["ma"].apply_changes

    def refuse_all(container, changes):  # type: ignore[no-untyped-def]
        return [ChangeOutcome(c, OutcomeState.FAILED, "UNAVAILABLE", "try again later") for c in changes]

    engine.connectors["ma"].apply_changes = refuse_all  # type: ignore[method-assign]
    failing = world.crm_person("failing@x.com")
    world.crm.add_member(camp, failing, "Sent")
    assert engine.sync("web").counts.get("failed") == 1
    engine.connectors["ma"].apply_changes = real  # type: ignore[method-assign]
    world.crm.remove_member(camp, kept)
    world.crm.remove_member(camp, failing)

    report = world.sync(cfg, "web", full=True)

    assert world.ma_emails(lst) == {"kept@x.com"}  # additive: nobody is removed
    released = [(d.email, d.detail) for d in report.decisions if d.kind is Kind.LEFT_IN_PLACE]
    assert released == [("failing@x.com", "no longer in the source, but this rule did not add it: left in place")]
    assert report.counts.get("released") == 1


def test_an_add_a_stopped_run_never_saw_land_is_let_go_saying_why_when_the_person_leaves(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(camp, ada, "Sent")
    cfg = world.config(SHARED)
    world.sync(cfg, "webinar")
    # what a run stopped mid-batch leaves when its add never landed: the intent, and no member
    key = next(iter(world.store.ledger_keys("webinar")))
    row = world.store.ledger("webinar", [key])[key]
    world.store.write_ledger([row._replace(state=LedgerState.PENDING, owned=False)])
    world.ma.remove_member(lst, row.target_record_id or "")
    world.crm.remove_member(camp, ada)

    report = world.sync(cfg, "webinar", full=True)

    said = [(d.email, d.detail, d.container) for d in report.decisions if d.kind is Kind.LEFT_IN_PLACE]
    assert said == [
        (
            "ada@x.com",
            "no longer in the source; a run that stopped before the target confirmed its change left it unsettled, "
            "and the target cannot say who added the member: left in place",
            "ma:Nurture",
        )
    ]
    assert report.counts.get("released") == 1


MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_plan_json_lists_a_released_member_with_their_email_and_target_record(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(camp, ada)
    ma_ada = world.ma_person("ada@x.com")
    world.ma.add_member(lst, ma_ada)  # there before the rule: not its own
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    world.crm.remove_member(camp, ada)

    planned = world.engine(cfg).plan("web").as_json()

    assert planned["changes"]["removals"] == [
        {"action": "remove", "email": "ada@x.com", "status": None, "target": f"ma:contact:{ma_ada}"}
    ]


MAPPED_MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: crm, campaign: Event, status_map: {Sent: Invited, Responded: Attended}}
    mode: mirror
"""


def test_a_status_map_rule_still_plans_removals_after_a_person_it_leaves_as_they_are(world: World) -> None:
    # ada is in the source twice (a lead and a contact); once her lead's record leaves, the incremental read
    # does not see her contact's, so her status is left as it is; bob left, and is removed all the same.
    camp = world.campaign("Webinar")
    event = world.campaign("Event", [("Invited", False), ("Attended", True)])
    ada_lead = world.crm_person("ada@x.com", "Lead")
    world.crm.add_member(camp, ada_lead, "Responded")
    world.crm.add_member(camp, world.crm_person("ada@x.com"), "Responded")
    cfg = world.config(MAPPED_MIRROR)
    world.sync(cfg, "web")  # ada is known first: her person key sorts before bob's
    world.clock.tick(3600)  # her contact's record falls behind the look-back of the reads after bob's
    bob = world.crm_person("bob@x.com")
    world.crm.add_member(camp, bob, "Sent")
    world.sync(cfg, "web")
    assert world.crm_members(event) == {"ada@x.com": "Attended", "bob@x.com": "Invited"}
    world.crm.remove_member(camp, ada_lead)
    world.crm.remove_member(camp, bob)

    report = world.sync(cfg, "web")

    assert not report.full_read
    assert world.crm_members(event) == {"ada@x.com": "Attended"}
    assert [i.email for i in report.removals] == ["bob@x.com"]


def test_a_member_whose_removal_failed_and_who_came_back_is_still_the_rules_own(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(camp, ada, "Sent")
    world.ma_person("ada@x.com")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")  # added by the rule: its own
    engine = world.engine(cfg)

    def refuse_all(container, changes):  # type: ignore[no-untyped-def]
        return [ChangeOutcome(c, OutcomeState.FAILED, "UNAVAILABLE", "try again later") for c in changes]

    engine.connectors["ma"].apply_changes = refuse_all  # type: ignore[method-assign]
    world.crm.remove_member(camp, ada)
    assert engine.sync("web").counts.get("failed") == 1  # the removal failed: she is still in the list
    world.clock.tick(60)
    world.crm.add_member(camp, ada, "Sent")  # and back in the source

    back = world.sync(cfg, "web")

    said = [d.detail for d in back.decisions if d.kind is Kind.ALREADY_MEMBER]
    assert said == ["already a member, added by this rule before (still its own)"]
    world.crm.remove_member(camp, ada)
    world.sync(cfg, "web")
    assert world.ma_emails(lst) == set()  # still the rule's own: removed once she leaves


def test_a_member_past_a_lowered_max_attempts_does_not_stop_the_adds_after_them(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("failing@x.com"), "Sent")
    world.ma_person("failing@x.com")
    engine = world.engine(world.config(MIRROR, defaults="defaults: {max_attempts: 5}"))

    def refuse_all(container, changes):  # type: ignore[no-untyped-def]
        return [ChangeOutcome(c, OutcomeState.FAILED, "UNAVAILABLE", "try again later") for c in changes]

    engine.connectors["ma"].apply_changes = refuse_all  # type: ignore[method-assign]
    for _ in range(2):
        engine.sync("web")  # failing@ is known first: their person key sorts before those made later
        world.clock.tick(60)
    for name in ("bob", "cy"):
        world.crm.add_member(camp, world.crm_person(f"{name}@x.com"), "Sent")
        world.ma_person(f"{name}@x.com")

    report = world.sync(world.config(MIRROR, defaults="defaults: {max_attempts: 2}"), "web", full=True)

    assert world.ma_emails(lst) == {"bob@x.com", "cy@x.com"}  # failing@ is not sent again
    assert report.counts.get("added") == 2


def test_a_member_the_rule_raised_to_a_higher_status_is_still_its_own_and_removed_when_they_leave(
    world: World,
) -> None:
    camp = world.campaign("Webinar")
    event = world.campaign("Event", [("Invited", False), ("Attended", True)])
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(camp, ada, "Sent")
    cfg = world.config(MAPPED_MIRROR)
    world.sync(cfg, "web")
    world.crm.add_member(camp, ada, "Responded")
    raised = world.sync(cfg, "web")
    assert raised.counts.get("status_changed") == 1
    assert world.crm_members(event) == {"ada@x.com": "Attended"}

    world.crm.remove_member(camp, ada)
    world.sync(cfg, "web")

    assert world.crm_members(event) == {}
