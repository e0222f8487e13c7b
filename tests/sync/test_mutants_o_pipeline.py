"""The pipeline's promises the earlier pipeline tests left open (docs/testing.md, "Every survivor,
explained"): what a run with nothing to look up reports, the apply progress of writes sent from the
writer thread, the target's preparation asked once per run, the lookups still in flight when the read
ends, and a target that takes one call at a time never written to while a lookup is under way."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from campaign_bridge.mapping.model import PersonRecord
from campaign_bridge.sync.walk import Walk
from tests.sync.test_mutants_m_pipeline import InFlight
from tests.sync.test_mutants_pipeline import MIRROR, SMALL, _engine, _seed, _sync
from tests.sync.world import World


def test_a_run_that_looks_nobody_up_reports_no_unmatched_count(world: World) -> None:
    # `sync --json` and the runs row count "unmatched" only when the run looked people up in the target
    _seed(world, 3)
    cfg = world.config(MIRROR)
    assert _sync(_engine(world, cfg)[0], world).counts.get("unmatched") == 0

    again = _sync(_engine(world, cfg)[0], world)

    assert again.status == "ok"
    assert "unmatched" not in again.counts


@pytest.mark.parametrize("concurrent", [True, False], ids=["from-the-writer-thread", "from-the-runs-thread"])
def test_the_apply_progress_counts_up_over_every_write_of_the_run(world: World, concurrent: bool) -> None:
    # The CLI's progress bar and the console's run page show `progress("apply", done, total)`. The adds
    # written while reading (from the writer thread, or from the run's own thread for a target taking one
    # call at a time) and the apply step's last write are one count: the bar never goes back.
    _, lst, _ = _seed(world, 25)
    engine, _ = _engine(world, world.config(MIRROR), concurrent=concurrent)
    ticks: list[tuple[int, int]] = []
    engine.progress = lambda stage, done, total: ticks.append((done, total)) if stage == "apply" else None

    report = _sync(engine, world)

    assert report.status == "ok"
    assert len(world.ma_emails(lst)) == report.counts["added"] == 25
    assert ticks[-1] == (25, 25)
    assert [done for done, _ in ticks] == sorted(done for done, _ in ticks)  # never back
    assert all(done <= total <= 25 for done, total in ticks)
    if concurrent:  # the two writes of 10 sent ahead, each counted as it is recorded, then the last 5
        assert ticks == [(10, 10), (20, 20), (25, 25)]


def test_the_targets_preparation_is_asked_once_per_run(world: World) -> None:
    # `Connector.prepare_writes` is called once, as the first add is planned (connectors/base.py): a
    # connector built with the kit may do there what it wants done once, as Marketo reads a static list's
    # first page (and asks again after a failed read). A run of several chunks of adds must not ask again.
    _, lst, _ = _seed(world, 40)
    engine, _ = _engine(world, world.config(MIRROR), concurrent=True)
    ma: Any = engine.connectors["ma"]
    prepared: list[str] = []
    ma.prepare_writes = lambda container: prepared.append(container.name)

    report = _sync(engine, world)

    assert report.status == "ok"
    assert len(world.ma_emails(lst)) == 40
    assert prepared == ["Nurture"]


def test_lookups_still_in_flight_when_the_read_ends_are_all_taken_in(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rule that owns members (so its plan could be held) leaves its last lookups to the end, with up to
    # `lookups_ahead` of them in flight against a slow target. Every one's answer must be taken in: an add
    # whose answer is dropped ends "unmatched" though the target has the person.
    camp, lst, _ = _seed(world, 10)
    cfg = world.config(MIRROR)
    assert _sync(_engine(world, cfg, concurrent=True)[0], world).counts["added"] == 10
    for i in range(10, 40):
        world.crm.add_member(camp, world.crm_person(f"p{i:03d}@x.com"), "Responded")
        world.ma_person(f"p{i:03d}@x.com")

    # the target answers no lookup before the run has read its source and looks for the persons who left,
    # and the first answer comes a moment after that, so the lookups are still in flight at the end
    read_over = threading.Event()
    leavers = Walk.leavers

    def looking_for_leavers(self: Walk, *args: Any) -> Any:
        read_over.set()
        return leavers(self, *args)

    monkeypatch.setattr(Walk, "leavers", looking_for_leavers)
    engine, _ = _engine(world, cfg, concurrent=True, tuning=dataclasses.replace(SMALL, lookups_ahead=8))
    ma: Any = engine.connectors["ma"]
    lookup = ma.lookup_people
    first = threading.Lock()

    def slow(emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        read_over.wait(timeout=5)
        if first.acquire(blocking=False):
            time.sleep(0.1)
        return dict(lookup(emails))

    ma.lookup_people = slow
    report = _sync(engine, world)

    assert report.status == "ok"
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(40)}
    assert report.counts.get("added") == 30
    assert report.counts.get("unmatched", 0) == 0


def test_a_target_taking_one_call_at_a_time_is_written_to_only_once_its_lookups_are_in(world: World) -> None:
    # The adds are written 10 at a time while the source is read; a target that does not say
    # `concurrent_calls` is looked up from the lookup thread, so a write waits for the lookups in flight.
    _, lst, _ = _seed(world, 20)
    engine, _ = _engine(world, world.config(MIRROR))
    calls = InFlight(engine.connectors["ma"], "lookup_people", "apply_changes")

    report = _sync(engine, world)

    assert report.status == "ok"
    assert len(world.ma_emails(lst)) == 20
    assert calls.calls >= 4  # two lookups and two writes
    assert calls.most == 1
