"""Writes sent from the writer thread (a target that takes concurrent calls): a failed one leaves the run
partial, and the run's steps are timed under their names, as for writes sent from the run's own thread."""

from __future__ import annotations

from tests.sync.test_mutants_m_pipeline import _first_write_fails
from tests.sync.test_mutants_pipeline import MIRROR, _engine, _seed, _sync
from tests.sync.world import World


def test_a_failed_write_from_the_writer_thread_leaves_the_run_partial_with_its_steps_timed(world: World) -> None:
    _, lst, _ = _seed(world, 25)
    cfg = world.config(MIRROR)
    engine, _ = _engine(world, cfg, concurrent=True)
    _first_write_fails(engine.connectors["ma"])

    first = _sync(engine, world)

    assert first.status == "partial"
    assert first.counts.get("failed") == 10
    assert set(first.timings) == {"read", "resolve", "plan", "apply", "total"}
    assert len(world.ma_emails(lst)) == 15
    second = _sync(_engine(world, cfg, concurrent=True)[0], world)
    assert second.status == "ok"
    assert len(world.ma_emails(lst)) == 25
