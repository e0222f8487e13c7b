"""Who a run finds gone from its source (``Walk.leavers``), as a user sees it: a member whose segment
membership lapsed is removed even after a plan looked at it first, and a member whose record the snapshot
forgot (a run that died before removing them) is removed by the next full read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from campaign_bridge.mapping.model import ContainerKind
from tests.sync.test_mutants_pipeline import MIRROR as PIPELINE_MIRROR
from tests.sync.test_mutants_pipeline import _engine, _seed, _sync
from tests.sync.test_source_between_full_reads import CLICKED, MIRROR, clicker, engine_with_feed, run
from tests.sync.world import World


def test_a_plan_does_not_make_the_next_sync_forget_a_lapsed_member(world: World) -> None:
    camp = world.campaign("Webinar")
    now = world.clock()
    clicker(world, "old@x.com", now - timedelta(days=29, hours=23))
    clicker(world, "new@x.com", now - timedelta(days=2))  # the watermark: old@'s click is behind it
    reads: list[bool] = []
    run(world, reads)
    assert set(world.crm_members(camp)) == {"old@x.com", "new@x.com"}
    world.clock.tick(2 * 3600)  # old@'s click is now 30 days and an hour ago

    planned = engine_with_feed(world, reads).plan("clicked")
    assert [i.email for i in planned.removals] == ["old@x.com"]
    synced = run(world, reads)

    assert reads == [True, False, False]  # the plan and the sync read the changes only
    assert synced.counts.get("removed") == 1
    assert set(world.crm_members(camp)) == {"new@x.com"}


def test_a_member_the_snapshot_forgot_is_still_removed_by_a_full_read(world: World) -> None:
    # A run that died after writing its snapshot but before removing the member leaves the ledger saying
    # the member is in the target, and the snapshot no longer holding them.
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a = world.crm_person("a@x.com")
    world.crm.add_member(camp, a, "Sent")
    world.crm.add_member(camp, world.crm_person("b@x.com"), "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}
    world.crm.remove_member(camp, a)
    world.store.update_snapshot("web", [], [a])

    report = world.sync(cfg, "web", full=True)

    assert report.status == "ok"
    assert report.counts.get("removed") == 1
    assert world.ma_emails(lst) == {"b@x.com"}


def test_a_click_exactly_the_window_ago_is_still_within_it(world: World) -> None:
    window = CLICKED.replace("within: 30d", "within: 1h")
    camp = world.campaign("Webinar")
    clicked = world.clock() - timedelta(minutes=10)
    clicker(world, "a@x.com", clicked)
    reads: list[bool] = []
    run(world, reads, config=window)
    world.clock.tick((clicked + timedelta(hours=1) - world.clock()).total_seconds())  # a@'s click: 1h ago
    run(world, reads, config=window)
    assert reads == [True, False]
    assert set(world.crm_members(camp)) == {"a@x.com"}


@pytest.mark.parametrize("dry", [False, True])
def test_a_member_who_left_early_in_a_read_of_many_chunks_is_removed(world: World, dry: bool) -> None:
    camp, lst, ids = _seed(world, 6)
    cfg = world.config(PIPELINE_MIRROR)
    _sync(_engine(world, cfg)[0], world)
    world.clock.tick(3600)
    world.crm.remove_member(camp, ids[0])  # the first change of the next read
    world.clock.tick(60)
    for i in range(6, 30):  # changes after it: more chunks to read
        world.crm.add_member(camp, world.crm_person(f"p{i:03d}@x.com"), "Responded")
        world.ma_person(f"p{i:03d}@x.com")

    engine = _engine(world, cfg)[0]
    report = engine.plan("web") if dry else _sync(engine, world)

    assert not report.full_read
    assert [i.email for i in report.removals] == ["p000@x.com"]
    if not dry:
        assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(1, 30)}


STATUSES = [("Invited", False), ("Registered", False), ("Attended", True)]
MAPPED = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, program: Webinar program, status_map: {Registered: Registered, Attended: Attended}}
    mode: mirror
"""


@pytest.mark.parametrize("lead_status", ["Registered", "Attended"])
def test_a_person_in_the_source_twice_gets_the_higher_of_their_statuses(world: World, lead_status: str) -> None:
    # The same person as a Contact and as a Lead in the source campaign, at two statuses: whichever record
    # is read last, the target status is the higher one.
    camp = world.campaign("Webinar", STATUSES)
    program = world.ma.add_container("Webinar program", ContainerKind.PROGRAM, STATUSES)
    contact_status = "Attended" if lead_status == "Registered" else "Registered"
    world.crm.add_member(camp, world.crm_person("ada@x.com", "Contact"), contact_status)
    world.crm.add_member(camp, world.crm_person("ada@x.com", "Lead"), lead_status)
    world.ma_person("ada@x.com")

    report = world.sync(world.config(MAPPED), "web")

    assert report.status == "ok"
    assert {world.ma.people[p].email: s for p, s in world.ma.members(program).items()} == {"ada@x.com": "Attended"}
