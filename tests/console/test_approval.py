"""A held plan approved or discarded by a person (the guard's hook, ``SafetyGuard._approved``): an approval
lets one sync apply exactly the removals approved; a plan that grew since is held again; a discard, a
dry run, or an approval already used changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaign_bridge.sync.store.console import APPROVED, DISCARDED
from tests.sync.world import World

RULE = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
    safety: {max_removals: 2}
"""
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _held(world: World, members: int = 10, leaving: int = 4) -> tuple[str, str, list[str]]:
    """A rule that added ``members`` people, ``leaving`` of whom have left: its sync is held."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = [world.crm_person(f"p{i}@x.com") for i in range(members)]
    for pid in ids:
        world.crm.add_member(camp, pid, "Responded")
    cfg = world.config(RULE)
    assert world.sync(cfg, "web").status == "ok"
    for pid in ids[:leaving]:
        world.crm.remove_member(camp, pid)
    report = world.sync(cfg, "web")
    assert report.status == "held"
    return camp, lst, ids


def test_an_approved_plan_is_applied_once(world: World) -> None:
    _, lst, _ = _held(world)
    cfg = world.config(RULE)
    plan = world.store.held_plan("web")
    assert plan is not None
    assert len(plan.keys) == 4
    world.store.decide_plan(plan, APPROVED, "olga", NOW)

    assert world.engine(cfg).plan("web").status == "held"  # a dry run neither applies nor uses it
    report = world.sync(cfg, "web")
    assert report.status == "ok"
    assert report.counts["removed"] == 4
    assert "approved by olga" in report.message
    assert world.ma_emails(lst) == {f"p{i}@x.com" for i in range(4, 10)}
    assert world.store.approved_removals("web") is None  # used


def test_a_plan_that_grew_since_its_approval_is_held_again(world: World) -> None:
    camp, lst, ids = _held(world)
    plan = world.store.held_plan("web")
    assert plan is not None
    world.store.decide_plan(plan, APPROVED, "olga", NOW)
    world.crm.remove_member(camp, ids[4])  # one more left after the approval
    report = world.sync(world.config(RULE), "web")
    assert report.status == "held"
    assert len(world.ma_emails(lst)) == 10
    newer = world.store.held_plan("web")
    assert newer is not None
    assert newer.run_id != plan.run_id
    assert len(newer.keys) == 5
    assert newer.decision is None


def test_a_plan_that_shrank_since_its_approval_is_applied(world: World) -> None:
    camp, lst, ids = _held(world)
    plan = world.store.held_plan("web")
    assert plan is not None
    world.store.decide_plan(plan, APPROVED, "olga", NOW)
    world.crm.add_member(camp, ids[0], "Responded")  # came back: within what was approved
    report = world.sync(world.config(RULE), "web")
    assert report.status == "ok"
    assert world.ma_emails(lst) == {"p0@x.com", *(f"p{i}@x.com" for i in range(4, 10))}


@pytest.mark.parametrize("decision", [DISCARDED, None])
def test_a_discarded_or_undecided_plan_changes_nothing(world: World, decision: str | None) -> None:
    _, lst, _ = _held(world)
    plan = world.store.held_plan("web")
    assert plan is not None
    if decision is not None:
        world.store.decide_plan(plan, decision, "olga", NOW)
    assert world.sync(world.config(RULE), "web").status == "held"
    assert len(world.ma_emails(lst)) == 10


def test_an_approval_of_a_plan_a_later_sync_superseded_applies_nothing(world: World) -> None:
    camp, lst, ids = _held(world)
    plan = world.store.held_plan("web")
    assert plan is not None
    raised = RULE.replace("max_removals: 2", "max_removals: 100")
    assert world.sync(world.config(raised), "web").status == "ok"  # the limit raised: the plan went through
    assert world.store.superseded("web", plan.run_id)
    assert world.store.undecided_held_plans() == {}
    world.store.decide_plan(plan, APPROVED, "olga", NOW)  # too late
    for pid in ids[:3]:  # three of the approved come back, and leave again: within the old approval
        world.crm.add_member(camp, pid, "Responded")
    assert world.sync(world.config(RULE), "web").status == "ok"
    for pid in ids[:3]:
        world.crm.remove_member(camp, pid)
    assert world.sync(world.config(RULE), "web").status == "held"
    assert len(world.ma_emails(lst)) == 9
