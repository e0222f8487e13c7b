"""The decision log is written as the run goes: a run killed mid-apply still tells what it did."""

from __future__ import annotations

from collections.abc import Sequence

from campaign_bridge.connectors.memory import MemoryMA
from campaign_bridge.mapping.model import Change, ChangeOutcome, Container
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.explain import explain
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


class Killed(Exception):
    """Stands for the process dying: no ``except`` in the engine handles it, so the run never finishes."""


def _engine_with_batches_of_two(world: World, config_text: str) -> tuple[Engine, MemoryMA]:
    engine = world.engine(world.config(config_text))
    ma = engine.connectors["ma"]
    assert isinstance(ma, MemoryMA)
    ma.write_batch_size = 2  # type: ignore[misc]  # several batches in one run
    return engine, ma


def _logged(world: World) -> list[tuple[str, str | None]]:
    """The decision log of rule ``web``, oldest first, as (kind, email)."""
    return [(r["kind"], r["email"]) for r in reversed(world.store.decisions(rule="web"))]


def test_a_run_killed_after_its_first_batch_leaves_that_batchs_decisions(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    emails = [f"p{i}@x.com" for i in range(4)]
    for email in emails:
        world.crm.add_member(camp, world.crm_person(email))
        world.ma_person(email)
    engine, ma = _engine_with_batches_of_two(world, MIRROR)
    real = ma.apply_changes
    batches: list[list[str]] = []

    def apply(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        sent = [world.ma.people[c.target.id].email or "" for c in changes]
        batches.append(sent)
        if len(batches) == 2:
            raise Killed
        # The target refuses the first person of the first batch and applies the other.
        world.ma.containers[lst].reject[sent[0]] = ("INVALID_EMAIL", "blocked by a validation rule")
        return real(container, changes)

    ma.apply_changes = apply  # type: ignore[method-assign]
    try:
        engine.sync("web")
        raise AssertionError("the run was expected to die in its second batch")
    except Killed:
        pass

    (refused, added), unsent = batches[0], batches[1]
    assert world.ma_emails(lst) == {added}
    # The run died (an exception stands for the kill, so its row is closed as failed rather than left
    # running), yet its first batch is in the log; the batch it died in is not.
    assert [r["status"] for r in world.store.runs(rule="web")] == ["failed"]
    assert _logged(world) == [("rejected_record", refused), ("added", added)]
    conflicts = world.store.decisions(rule="web", conflicts_only=True)
    assert [(c["kind"], c["email"]) for c in conflicts] == [("rejected_record", refused)]
    assert "blocked by a validation rule" in conflicts[0]["detail"]
    (entry,) = explain(world.store, engine.config, added)
    assert [d["kind"] for d in entry["decisions"]] == ["added"]
    for email in unsent:
        (entry,) = explain(world.store, engine.config, email)
        assert entry["decisions"] == []

    # The next run adds the rest; nothing the killed run logged is logged again.
    world.clock.tick(60)
    report = world.sync(engine.config, "web")
    assert report.status == "ok"
    assert world.ma_emails(lst) == {added, *unsent}
    assert sorted(_logged(world)) == sorted(
        [("rejected_record", refused), ("added", added), *(("added", e) for e in unsent)]
    )


def test_a_finished_run_logs_each_decision_once_in_the_order_made(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for i in range(5):
        email = f"p{i}@x.com"
        world.crm.add_member(camp, world.crm_person(email))
        if i:
            world.ma_person(email)  # p0 is created in the target: a decision made before any batch
    world.ma.containers[lst].reject["p3@x.com"] = ("INVALID_EMAIL", "blocked by a validation rule")
    engine, _ = _engine_with_batches_of_two(world, MIRROR)

    report = engine.sync("web")

    assert report.status == "ok"
    assert world.ma_emails(lst) == {"p0@x.com", "p1@x.com", "p2@x.com", "p4@x.com"}
    expected = [(d.kind.value, d.email) for d in report.decisions]
    assert {"created_person", "added", "rejected_record"} <= {kind for kind, _ in expected}
    assert _logged(world) == expected
