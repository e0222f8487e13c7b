"""A run's timings say where its time went, as ``sync --json`` and the runs row show them: each step
(``read``, ``resolve``, ``plan``, ``apply``) counts the time the run spent in it over the whole run, not
only in its last chunk or its last write; no step is negative; the steps fit in the run's ``total``, and
``total`` in the time the caller waited for the run. The runs row keeps them to the millisecond.

Each step is made slow once, early in the run, by a known amount: a step's time can only be more."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from campaign_bridge.sync.plan import RunReport
from tests.sync.test_mutants_pipeline import MIRROR, _engine, _seed
from tests.sync.world import World

STEPS = ("read", "resolve", "plan", "apply")


def _slow_once(call: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    """``call``, taking ``seconds`` longer the first time it is called."""
    first = [True]

    def slow(*args: Any, **kwargs: Any) -> Any:
        if first[0]:
            first[0] = False
            time.sleep(seconds)
        return call(*args, **kwargs)

    return slow


def _timed_sync(world: World, engine: Any) -> tuple[RunReport, float]:
    started = time.perf_counter()
    report = engine.sync("web")
    waited = time.perf_counter() - started
    world.clock.tick(60)
    return report, waited


def _assert_consistent(world: World, report: RunReport, waited: float) -> None:
    timings = report.timings
    assert set(STEPS) | {"total"} <= set(timings)
    assert min(timings.values()) >= 0
    assert sum(timings[step] for step in STEPS) <= timings["total"] <= waited
    stored = world.store.runs(rule="web")[0]["timings"]
    assert stored == {step: round(seconds, 3) for step, seconds in timings.items()}


def test_each_step_counts_its_time_over_the_whole_run_and_the_steps_fit_in_the_total(world: World) -> None:
    # 25 people: chunks of 5, 10 and 10, and adds written as they come, in batches of 10.
    _seed(world, 25)
    cfg = world.config(MIRROR)
    engine, _ = _engine(world, cfg)
    # before the first chunk: read
    engine.sources.open = _slow_once(engine.sources.open, 0.06)  # type: ignore[method-assign]
    # the first chunk: resolve
    world.store.update_snapshot = _slow_once(world.store.update_snapshot, 0.04)  # type: ignore[method-assign]
    # the first chunk: plan
    world.store.ledger = _slow_once(world.store.ledger, 0.05)  # type: ignore[method-assign]
    # who left the full read: plan
    world.store.drop_unseen = _slow_once(world.store.drop_unseen, 0.03)  # type: ignore[method-assign]
    ma: Any = engine.connectors["ma"]
    ma.apply_changes = _slow_once(ma.apply_changes, 0.07)  # the first write: apply

    report, waited = _timed_sync(world, engine)

    assert report.status == "ok"
    assert report.counts["added"] == 25
    assert report.timings["read"] >= 0.06
    assert report.timings["resolve"] >= 0.04
    assert report.timings["plan"] >= 0.05 + 0.03
    assert report.timings["apply"] >= 0.07
    _assert_consistent(world, report, waited)


def test_a_run_that_only_removes_counts_the_planning_of_who_left_and_its_writes(world: World) -> None:
    camp, _, ids = _seed(world, 12)
    cfg = world.config(MIRROR)
    _timed_sync(world, _engine(world, cfg)[0])
    for pid in ids[:3]:
        world.crm.remove_member(camp, pid)
    engine, _ = _engine(world, cfg)
    ma: Any = engine.connectors["ma"]
    ma.apply_changes = _slow_once(ma.apply_changes, 0.05)
    # planning the three who left
    world.store.persons = _slow_once(world.store.persons, 0.04)  # type: ignore[method-assign]

    report, waited = _timed_sync(world, engine)

    assert report.status == "ok"
    assert report.counts.get("added", 0) == 0
    assert report.counts["removed"] == 3
    assert report.timings["plan"] >= 0.04
    assert report.timings["apply"] >= 0.05
    _assert_consistent(world, report, waited)
