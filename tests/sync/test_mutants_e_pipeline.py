"""A stop asked for while a run takes in its last lookups (``Pipeline.drain``), as a user sees it: the run
ends partial, saying it stopped while reading, before it plans or writes any removal; the next run finishes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from campaign_bridge.mapping.model import PersonRecord
from tests.sync.test_mutants_pipeline import MIRROR, _engine, _seed, _sync
from tests.sync.world import World


def test_a_stop_asked_while_the_last_lookups_come_in_ends_the_run_before_its_removals(world: World) -> None:
    camp, lst, ids = _seed(world, 5)  # few enough that the plan cannot be held: the tail is written as it comes
    cfg = world.config(MIRROR)
    assert _sync(_engine(world, cfg, concurrent=True)[0], world).status == "ok"
    world.crm.remove_member(camp, ids[0])
    for i in range(5, 15):  # one whole lookup batch of new people
        world.crm.add_member(camp, world.crm_person(f"p{i:03d}@x.com"), "Responded")
        world.ma_person(f"p{i:03d}@x.com")

    # The lookup is answered only once the read is over and the run looks for who left; the stop is asked
    # for at that moment, so it comes while the run takes that last lookup in.
    read_over = threading.Event()
    stop = [False]
    engine, _ = _engine(world, cfg, concurrent=True, stop=lambda read: stop[0])
    ma: Any = engine.connectors["ma"]
    lookup = ma.lookup_people

    def answered_after_the_read(emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        read_over.wait(timeout=30)
        return dict(lookup(emails))

    ma.lookup_people = answered_after_the_read
    leavers = world.store.persons_with_other_records

    def looking_for_leavers(*args: Any, **kw: Any) -> set[str]:
        stop[0] = True
        read_over.set()
        return set(leavers(*args, **kw))

    world.store.persons_with_other_records = looking_for_leavers  # type: ignore[method-assign]
    try:
        stopped = _sync(engine, world)
    finally:
        del world.store.persons_with_other_records

    assert stopped.status == "partial"
    assert stopped.message == "stopped on request while reading the source; the next run continues"
    assert stopped.counts.get("removed", 0) == 0
    assert "p000@x.com" in world.ma_emails(lst)

    done = _sync(_engine(world, cfg, concurrent=True)[0], world)
    assert done.status == "ok"
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(1, 15)}


def test_a_write_still_under_way_when_the_lookups_are_in_is_recorded_before_the_plan_goes_on(world: World) -> None:
    # A paced target answers the last write sent ahead only after the run has moved on to plan who left
    # (held at most 0.3 s here); the run waits for that answer, so the report and the ledger say
    # what landed.
    camp, lst, ids = _seed(world, 5)
    cfg = world.config(MIRROR)
    assert _sync(_engine(world, cfg, concurrent=True)[0], world).status == "ok"
    world.crm.remove_member(camp, ids[0])
    for i in range(5, 15):
        world.crm.add_member(camp, world.crm_person(f"p{i:03d}@x.com"), "Responded")
        world.ma_person(f"p{i:03d}@x.com")

    planning_leavers = threading.Event()
    engine, _ = _engine(world, cfg, concurrent=True)
    ma: Any = engine.connectors["ma"]
    apply = ma.apply_changes

    def answered_late(container: Any, changes: Sequence[Any]) -> Any:
        planning_leavers.wait(timeout=0.3)
        return apply(container, changes)

    ma.apply_changes = answered_late
    persons = world.store.persons

    def planning(*args: Any, **kw: Any) -> Any:
        planning_leavers.set()
        return persons(*args, **kw)

    world.store.persons = planning  # type: ignore[method-assign]
    try:
        report = _sync(engine, world)
    finally:
        del world.store.persons

    assert report.status == "ok"
    assert report.counts.get("added") == 10
    assert report.counts.get("removed") == 1
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(1, 15)}
    # every add is the rule's own: a mirror removes them when they leave the campaign
    world.crm.remove_member(camp, ids[1])
    for pid in list(world.crm.containers[camp].members)[-2:]:
        world.crm.remove_member(camp, pid)
    later = _sync(_engine(world, cfg, concurrent=True)[0], world)
    assert later.counts.get("removed") == 3
