"""A held plan approved by a person (``SafetyGuard._approved``), at the unit level so that mutation runs see
it: one sync applies exactly the removals approved and says who approved them; a dry run, a discard, a plan
that grew, an approval already used or one a later sync superseded change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaign_bridge.mapping.model import ChangeOutcome, OutcomeState
from campaign_bridge.sync.plan import Kind
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
KEPT = {f"p{i}@x.com" for i in range(4, 10)}


def _held(world: World, members: int = 10, leaving: int = 4) -> tuple[str, str, list[str]]:
    """A rule that added ``members`` people, ``leaving`` of whom have left since: its sync is held."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = [world.crm_person(f"p{i}@x.com") for i in range(members)]
    for pid in ids:
        world.crm.add_member(camp, pid, "Responded")
    cfg = world.config(RULE)
    assert world.sync(cfg, "web").status == "ok"
    for pid in ids[:leaving]:
        world.crm.remove_member(camp, pid)
    assert world.sync(cfg, "web").status == "held"
    return camp, lst, ids


def _approve(world: World, decision: str = APPROVED) -> None:
    plan = world.store.held_plan("web")
    assert plan is not None
    world.store.decide_plan(plan, decision, "olga", NOW)


def test_an_approved_plan_is_applied_by_the_next_sync_which_says_who_approved_it(world: World) -> None:
    _, lst, _ = _held(world)
    _approve(world)
    report = world.sync(world.config(RULE), "web")
    assert report.status == "ok"
    assert report.message == "removals over the safety limits applied as approved by olga"
    assert report.counts["removed"] == 4
    assert not [d for d in report.decisions if d.kind is Kind.HELD_PLAN]
    assert world.ma_emails(lst) == KEPT


def test_a_dry_run_neither_applies_an_approval_nor_uses_it_up(world: World) -> None:
    _, lst, _ = _held(world)
    _approve(world)
    planned = world.engine(world.config(RULE)).plan("web")
    assert planned.status == "held"
    assert "approved" not in planned.message
    assert len(world.ma_emails(lst)) == 10
    assert world.store.approved_removals("web") is not None
    assert world.sync(world.config(RULE), "web").status == "ok"
    assert world.ma_emails(lst) == KEPT


def test_an_approval_is_used_once_more_leavers_after_it_are_held_again(world: World) -> None:
    camp, lst, ids = _held(world)
    _approve(world)
    assert world.sync(world.config(RULE), "web").status == "ok"
    assert world.store.approved_removals("web") is None  # used by that sync
    for pid in ids[4:7]:
        world.crm.remove_member(camp, pid)
    report = world.sync(world.config(RULE), "web")
    assert report.status == "held"
    assert "the plan removes 3 members, more than max_removals=2" in report.message
    assert world.ma_emails(lst) == KEPT


def test_an_approval_another_run_used_first_applies_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _, lst, _ = _held(world)
    _approve(world)
    # two syncs racing for one approval: the store marks it used by the first; the second finds it taken
    monkeypatch.setattr(world.store, "use_approval", lambda approval, run_id: False)
    report = world.sync(world.config(RULE), "web")
    assert report.status == "held"
    assert len(world.ma_emails(lst)) == 10


def test_a_plan_that_grew_since_its_approval_is_held_again_and_the_approval_kept(world: World) -> None:
    camp, lst, ids = _held(world)
    _approve(world)
    world.crm.remove_member(camp, ids[4])  # one more left after the approval
    report = world.sync(world.config(RULE), "web")
    assert report.status == "held"
    assert "the plan removes 5 members" in report.message
    assert len(world.ma_emails(lst)) == 10


def test_a_plan_that_shrank_since_its_approval_is_applied(world: World) -> None:
    camp, lst, ids = _held(world)
    _approve(world)
    world.crm.add_member(camp, ids[0], "Responded")  # came back: within what was approved
    report = world.sync(world.config(RULE), "web")
    assert report.status == "ok"
    assert report.counts["removed"] == 3
    assert world.ma_emails(lst) == {"p0@x.com"} | KEPT


@pytest.mark.parametrize("decision", [DISCARDED, None])
def test_a_discarded_or_undecided_plan_stays_held(world: World, decision: str | None) -> None:
    _, lst, _ = _held(world)
    if decision is not None:
        _approve(world, decision)
    report = world.sync(world.config(RULE), "web")
    assert report.status == "held"
    assert "approved by" not in report.message
    assert len(world.ma_emails(lst)) == 10


def test_removals_within_the_limits_go_out_without_an_approval_and_leave_it_unused(world: World) -> None:
    camp, lst, ids = _held(world)
    _approve(world)
    for pid in ids[:2]:  # two come back: two removals, within max_removals=2
        world.crm.add_member(camp, pid, "Responded")
    report = world.sync(world.config(RULE), "web")
    assert report.status == "ok"
    assert "approved by" not in (report.message or "")
    assert world.ma_emails(lst) == {"p0@x.com", "p1@x.com"} | KEPT


def test_an_approval_is_used_up_even_by_a_sync_whose_removals_partly_failed(world: World) -> None:
    _, lst, _ = _held(world)
    _approve(world)
    engine = world.engine(world.config(RULE))
    real = engine.connectors["ma"].apply_changes
    failing = {"p0@x.com", "p1@x.com", "p2@x.com"}

    def apply(container, changes):  # type: ignore[no-untyped-def]
        keep = [c for c in changes if world.ma.people[c.target.id].email not in failing]
        done = iter(real(container, keep))
        return [
            next(done)
            if world.ma.people[c.target.id].email not in failing
            else ChangeOutcome(c, OutcomeState.FAILED, "UNAVAILABLE", "try again later")
            for c in changes
        ]

    engine.connectors["ma"].apply_changes = apply  # type: ignore[method-assign]
    assert engine.sync("web").status == "partial"
    world.clock.tick(60)
    # the three removals left are over max_removals=2 again: the approval was for one sync, not for retries
    report = world.sync(world.config(RULE), "web")
    assert report.status == "held"
    assert world.ma_emails(lst) == failing | KEPT
