"""The pipeline's paths a large run takes, with its sizes shrunk so that a few dozen people go through
each: a target that takes concurrent calls (written from a thread of its own while the run reads), a
target with Bulk jobs, a run stopped while it reads, and adds that find no target record. What is
asserted is what a user sees: who is in the list, what the run reports, and what a later run does
with the members this one added."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.mapping.model import Change, ChangeOutcome, Container
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.pipeline import Tuning
from campaign_bridge.sync.plan import Kind, RunReport
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""

SMALL = Tuning(chunk=10, first_chunk=5, eager_write=10, eager_bulk=30, read_ahead=2, lookups_ahead=2)


def _seed(world: World, people: int, *, in_ma: bool = True) -> tuple[str, str, list[str]]:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = []
    for i in range(people):
        pid = world.crm_person(f"p{i:03d}@x.com")
        world.crm.add_member(camp, pid, "Responded")
        if in_ma:
            world.ma_person(f"p{i:03d}@x.com")
        ids.append(pid)
    return camp, lst, ids


class Bulk:
    """Bulk jobs for the memory MA (as Salesforce's Bulk API 2.0 has): each job is the changes of one
    ``apply_bulk`` call, recorded by size."""

    def __init__(self, conn: Connector, threshold: int, size: int) -> None:
        self.conn, self.bulk_threshold, self.bulk_batch_size = conn, threshold, size
        self.jobs: list[int] = []

    def apply_bulk(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        assert len(changes) <= self.bulk_batch_size
        self.jobs.append(len(changes))
        return self.conn.apply_changes(container, changes)


def _engine(
    world: World,
    cfg: ClientConfig,
    *,
    concurrent: bool = False,
    bulk: tuple[int, int] | None = None,
    stop: Callable[[list[int]], bool] | None = None,
    tuning: Tuning = SMALL,
) -> tuple[Engine, Any]:
    connectors = {name: build_connector(name, s) for name, s in cfg.connections.items()}
    ma: Any = connectors["ma"]
    ma.write_batch_size = ma.lookup_batch_size = 10
    ma.concurrent_calls = concurrent
    jobs = None
    if bulk is not None:
        jobs = Bulk(ma, *bulk)
        ma.bulk_threshold, ma.bulk_batch_size, ma.apply_bulk = (
            jobs.bulk_threshold,
            jobs.bulk_batch_size,
            jobs.apply_bulk,
        )
    read: list[int] = []
    engine = Engine(
        cfg,
        world.store,
        connectors,
        clock=world.clock,
        tuning=tuning,
        progress=lambda stage, done, total: read.append(done) if stage == "read" else None,
        should_stop=(lambda: stop(read)) if stop is not None else (lambda: False),
    )
    return engine, jobs


def _sync(engine: Engine, world: World) -> RunReport:
    report = engine.sync("web")
    world.clock.tick(60)
    return report


def test_a_target_taking_concurrent_calls_gets_every_add_and_the_rule_owns_them(world: World) -> None:
    camp, lst, ids = _seed(world, 45)
    cfg = world.config(MIRROR)

    first = _sync(_engine(world, cfg, concurrent=True)[0], world)

    assert first.status == "ok"
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(45)}
    assert first.counts["added"] == 45
    assert sorted(d.email or "" for d in first.decisions if d.kind is Kind.ADDED) == sorted(
        f"p{i:03d}@x.com" for i in range(45)
    )
    # the adds were recorded as this rule's own: a mirror removes those who leave the campaign
    for pid in ids[:4]:
        world.crm.remove_member(camp, pid)
    second = _sync(_engine(world, cfg, concurrent=True)[0], world)
    assert second.status == "ok"
    assert second.counts.get("removed") == 4
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(4, 45)}


def test_a_rerun_against_a_concurrent_target_writes_nothing_again(world: World) -> None:
    _seed(world, 25)
    cfg = world.config(MIRROR)
    _sync(_engine(world, cfg, concurrent=True)[0], world)
    calls = world.ma.calls
    again = _sync(_engine(world, cfg, concurrent=True)[0], world)
    assert again.status == "ok"
    assert again.counts.get("added", 0) == 0
    assert world.ma.calls - calls <= 2  # the read of the list's members, nothing written


def test_a_large_first_sync_goes_out_in_bulk_jobs_no_larger_than_the_target_takes(world: World) -> None:
    _, lst, _ = _seed(world, 70)
    cfg = world.config(MIRROR)
    engine, jobs = _engine(world, cfg, bulk=(20, 40))

    report = _sync(engine, world)

    assert report.status == "ok"
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(70)}
    assert report.counts["added"] == 70
    # Bulk jobs while reading (how the adds split between them depends on when the source's chunks come
    # in), none larger than the target takes; what is left under the Bulk threshold goes in a plain write
    assert jobs is not None
    assert jobs.jobs
    assert max(jobs.jobs) <= 40
    assert sum(jobs.jobs) >= 30


def test_a_large_first_sync_in_bulk_to_a_concurrent_target(world: World) -> None:
    _, lst, _ = _seed(world, 70)
    cfg = world.config(MIRROR)
    engine, jobs = _engine(world, cfg, bulk=(20, 40), concurrent=True)

    report = _sync(engine, world)

    assert report.status == "ok"
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(70)}
    assert report.counts["added"] == 70
    assert jobs is not None
    assert jobs.jobs
    assert max(jobs.jobs) <= 40


def test_a_run_stopped_while_reading_keeps_what_it_wrote_and_the_next_run_finishes(world: World) -> None:
    _, lst, _ = _seed(world, 60)
    cfg = world.config(MIRROR)
    for concurrent in (True, False):
        before = len(world.ma_emails(lst))
        engine, _ = _engine(world, cfg, concurrent=concurrent, stop=lambda read: bool(read) and read[-1] >= 30)
        stopped = _sync(engine, world)
        assert stopped.status == "partial"
        assert stopped.message == "stopped on request while reading the source; the next run continues"
        assert stopped.counts.get("removed", 0) == 0
        # every write sent before the stop is recorded: the report counts what landed
        assert stopped.counts.get("added", 0) == len(world.ma_emails(lst)) - before

    done = _sync(_engine(world, cfg)[0], world)
    assert done.status == "ok"
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(60)}


def test_a_stop_asked_after_the_read_leaves_the_removals_for_the_next_run(world: World) -> None:
    camp, lst, ids = _seed(world, 30)
    cfg = world.config(MIRROR)
    _sync(_engine(world, cfg)[0], world)
    for pid in ids[:3]:
        world.crm.remove_member(camp, pid)
    for i in range(30, 42):
        pid = world.crm_person(f"p{i:03d}@x.com")
        world.crm.add_member(camp, pid, "Responded")
        world.ma_person(f"p{i:03d}@x.com")

    engine, _ = _engine(world, cfg, stop=lambda read: bool(read) and read[-1] >= 39)
    stopped = _sync(engine, world)
    assert stopped.status == "partial"
    assert stopped.counts.get("removed", 0) == 0
    assert {f"p{i:03d}@x.com" for i in range(3)} <= world.ma_emails(lst)

    done = _sync(_engine(world, cfg)[0], world)
    assert done.status == "ok"
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(3, 42)}


def test_adds_that_find_no_target_record_are_counted_unmatched_with_the_reason(world: World) -> None:
    camp, lst, _ = _seed(world, 24)
    for i in range(24, 30):  # in the campaign, not in the MA
        world.crm.add_member(camp, world.crm_person(f"p{i:03d}@x.com"), "Responded")
    cfg = world.config(MIRROR + "    match: {create_missing: skip}\n")
    for concurrent in (False, True):
        report = _sync(_engine(world, cfg, concurrent=concurrent)[0], world)
        assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(24)}
        if not concurrent:
            assert report.counts.get("unmatched") == 6
            unmatched = sorted((d.email, d.detail) for d in report.decisions if d.kind is Kind.UNMATCHED_PERSON)
            reason = "no record with this email in the target, and the rule says create_missing: skip"
            assert unmatched == [(f"p{i:03d}@x.com", reason) for i in range(24, 30)]


def test_people_the_target_lacks_are_created_and_added(world: World) -> None:
    camp, lst, _ = _seed(world, 22)
    for i in range(22, 27):
        world.crm.add_member(camp, world.crm_person(f"p{i:03d}@x.com"), "Responded")
    cfg = world.config(MIRROR + "    match: {create_missing: contact}\n")
    for concurrent in (True,):
        report = _sync(_engine(world, cfg, concurrent=concurrent)[0], world)
        assert report.status == "ok"
        assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(27)}
        created = sorted(d.email or "" for d in report.decisions if d.kind is Kind.CREATED_PERSON)
        assert created == [f"p{i:03d}@x.com" for i in range(22, 27)]
        assert report.counts.get("unmatched", 0) == 0


def test_plan_with_small_sizes_reports_every_add_and_writes_nothing(world: World) -> None:
    _, lst, _ = _seed(world, 33)
    cfg = world.config(MIRROR)
    planned = _engine(world, cfg)[0].plan("web")
    assert planned.status == "planned"
    assert len(planned.adds) == 33
    assert world.ma_emails(lst) == set()


def test_a_concurrent_target_failing_transiently_leaves_the_adds_to_retry(world: World) -> None:
    """A vendor's 502 on a write sent from the writer thread fails those adds, to be retried by the next
    run, as it does for a write from the run's own thread: it does not fail the whole run."""
    from campaign_bridge.errors import TransientError

    _, lst, _ = _seed(world, 25)
    cfg = world.config(MIRROR)
    engine, _ = _engine(world, cfg, concurrent=True)
    ma: Any = engine.connectors["ma"]

    def failing(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        raise TransientError("HubSpot answered 502 Bad Gateway")

    ma.apply_changes = failing
    first = _sync(engine, world)
    assert first.status == "partial"
    assert first.counts.get("failed") == 25
    assert world.ma_emails(lst) == set()

    again = _sync(_engine(world, cfg, concurrent=True)[0], world)
    assert again.status == "ok"
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(25)}


def test_a_write_under_way_when_a_stop_is_asked_for_is_recorded_before_the_run_ends(world: World) -> None:
    """The writer thread's write still in flight at the stop lands in the target; the run waits for its
    answer and counts it, so the report (and the ledger) says what landed."""
    import threading

    _, lst, _ = _seed(world, 60)
    cfg = world.config(MIRROR)
    gate = threading.Event()

    def stop(read: list[int]) -> bool:
        if read and read[-1] >= 30:
            gate.set()  # the write in flight is answered only once the stop is asked for
            return True
        return False

    engine, _ = _engine(world, cfg, concurrent=True, stop=stop)
    ma: Any = engine.connectors["ma"]
    real = ma.apply_changes

    def slow(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        gate.wait(timeout=30)
        return real(container, changes)

    ma.apply_changes = slow
    stopped = _sync(engine, world)

    assert stopped.status == "partial"
    assert world.ma_emails(lst)
    assert stopped.counts.get("added", 0) == len(world.ma_emails(lst))
