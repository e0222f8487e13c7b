"""The pipeline's promises a user sees that the earlier pipeline tests left open (docs/testing.md, "Every
survivor, explained"): a failed eager write keeps the run partial, what a run's timings are called, how far
the source is read ahead, which threads call a connector and how many calls it gets at once, a plan over a
paced source, and the retry of an add whose lead was converted since."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import Change, ChangeOutcome, Container, MemberRecord
from campaign_bridge.sync.engine import Engine
from tests.sync.test_mutants_pipeline import MIRROR, SMALL, _engine, _seed, _sync
from tests.sync.world import World


def _first_write_fails(ma: Any) -> list[int]:
    """The MA answers its first write with a 503 and takes every later one; the sizes of the writes."""
    apply = ma.apply_changes
    sizes: list[int] = []

    def flaky(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        sizes.append(len(changes))
        if len(sizes) == 1:
            raise TransientError("the MA answered 503 Service Unavailable")
        return list(apply(container, changes))

    ma.apply_changes = flaky
    return sizes


def test_an_eager_write_that_fails_leaves_the_run_partial_and_the_next_run_adds_its_members(world: World) -> None:
    # 25 people, written 10 at a time while the source is read, to a target that takes one call at a time:
    # the first write of 10 fails, the others go through. The run must not call itself "ok" (which would
    # also move its watermark past the 10 never written).
    _, lst, _ = _seed(world, 25)
    cfg = world.config(MIRROR)
    engine, _ = _engine(world, cfg)
    sizes = _first_write_fails(engine.connectors["ma"])

    first = _sync(engine, world)

    assert sizes[0] == 10
    assert first.status == "partial"
    assert first.counts.get("failed") == 10
    assert len(world.ma_emails(lst)) == 15
    second = _sync(_engine(world, cfg)[0], world)
    assert second.status == "ok"
    assert world.ma_emails(lst) == {f"p{i:03d}@x.com" for i in range(25)}


def test_a_runs_timings_are_its_steps_by_name(world: World) -> None:
    # `sync --json` and the runs row show these keys; the eager writes count under "apply"
    _seed(world, 25)
    report = _sync(_engine(world, world.config(MIRROR))[0], world)
    assert report.status == "ok"
    assert set(report.timings) == {"read", "resolve", "plan", "apply", "total"}


def test_a_source_faster_than_the_run_is_read_only_a_few_chunks_ahead(world: World) -> None:
    # A rule's memory grows with its plan, not its source (docs/benchmarks.md, "State at scale"): however
    # fast the source, the read-ahead holds `read_ahead` chunks (2 of 10 here), not a ramp-up's worth.
    _seed(world, 80)
    cfg = world.config(MIRROR)
    connectors = {name: build_connector(name, s) for name, s in cfg.connections.items()}
    crm: Any = connectors["crm"]
    read = crm.read_members
    yielded = [0]

    def counted(*args: Any, **kwargs: Any) -> Iterator[MemberRecord]:
        for record in read(*args, **kwargs):
            yielded[0] += 1
            yield record

    crm.read_members = counted
    seen: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage != "read" or seen:
            return
        # the run is slow on its first chunk: let the read-ahead run as far ahead as it may, until it reads
        # past the bound below or stops reading (waiting for room) for a tenth of a second
        deadline, last, still = time.monotonic() + 1.0, -1, time.monotonic()
        while yielded[0] <= 50 and time.monotonic() < deadline:
            if yielded[0] != last:
                last, still = yielded[0], time.monotonic()
            elif time.monotonic() - still > 0.1:
                break
            time.sleep(0.005)
        seen.append(yielded[0])

    tuning = dataclasses.replace(SMALL, first_chunk=50)
    engine = Engine(cfg, world.store, connectors, clock=world.clock, tuning=tuning, progress=progress)
    report = engine.sync("web")

    assert report.status == "ok"
    assert report.counts["added"] == 80
    # the run's chunk, the queue's two, the one the thread is filling, and one it holds waiting for room
    assert len(seen) == 1
    assert seen[0] <= (tuning.read_ahead + 3) * tuning.chunk


def test_a_plan_over_a_source_slower_than_the_read_aheads_idle_step_lists_every_add(world: World) -> None:
    # A dry run reads ahead with nothing to do while it waits (it writes nothing and looks nothing up): a
    # source that takes longer than that idle step for a chunk (any paced vendor) must not break the plan.
    _seed(world, 20)
    cfg = world.config(MIRROR)
    engine = world.engine(cfg)
    crm: Any = engine.connectors["crm"]
    read = crm.read_members

    def paced(*args: Any, **kwargs: Any) -> Iterator[MemberRecord]:
        for n, record in enumerate(read(*args, **kwargs)):
            if n == 10:
                time.sleep(0.7)  # waiting for the vendor's next window
            yield record

    crm.read_members = paced
    plan = engine.plan("web")

    assert plan.status == "planned"
    assert sorted(a["email"] for a in plan.as_json()["changes"]["adds"]) == [f"p{i:03d}@x.com" for i in range(20)]


LEADS_FIRST = """
  - name: event
    from: {connection: ma, list: Attendees}
    to: {connection: crm, campaign: Event, status: Sent}
    match: {prefer: lead, create_missing: skip}
"""


def test_an_add_retried_after_its_lead_was_converted_goes_to_the_contact(world: World) -> None:
    # The first sync found ada's lead, but the write failed; the lead was then converted. A converted lead
    # takes no membership (Salesforce refuses it), so the retry follows the conversion to the contact, as
    # a first add would (tests/sync/test_promises_identity.py), instead of writing the lead the ledger holds.
    event, att = world.campaign("Event"), world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    lead = world.crm_person("ada@x.com", "Lead")
    cfg = world.config(LEADS_FIRST)
    engine = world.engine(cfg)
    _first_write_fails(engine.connectors["crm"])
    assert engine.sync("event").counts.get("failed") == 1
    world.clock.tick(60)
    contact = world.crm_person("ada@x.com")
    world.crm.convert(lead, contact)

    report = world.sync(cfg, "event")

    assert report.status == "ok"
    assert report.counts.get("added") == 1
    assert world.crm.members(event) == {contact: "Sent"}


class InFlight:
    """Counts the calls of some connector methods under way at once. Each call waits a moment (``patience``
    seconds, longer than the run takes to send the next call) for another to join it, so that two calls the
    pipeline lets overlap do overlap; each call the pipeline sends alone costs that moment."""

    def __init__(self, connector: Any, *names: str, patience: float = 0.05) -> None:
        self.patience = patience
        self._cond = threading.Condition()
        self._now = 0
        self.most = 0
        self.calls = 0
        for name in names:
            setattr(connector, name, self._wrap(getattr(connector, name)))

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._cond:
                self._now += 1
                self.calls += 1
                self.most = max(self.most, self._now)
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._now > 1, timeout=self.patience)
            try:
                return method(*args, **kwargs)
            finally:
                with self._cond:
                    self._now -= 1

        return call


def test_a_target_that_takes_one_call_at_a_time_gets_one_call_at_a_time(world: World) -> None:
    # A connector that does not say `concurrent_calls` (one built with the kit, by default) is looked up and
    # written to by one call at a time, though the run looks people up from a thread of its own.
    _, lst, _ = _seed(world, 20)
    # the adds are written at the end (in one write), so that nothing waits for the lookups in flight before
    # a write: the run's two lookups of 10 are sent a chunk apart, and would overlap with two lookup threads
    engine, _ = _engine(world, world.config(MIRROR), tuning=dataclasses.replace(SMALL, eager_write=1000))
    ma: Any = engine.connectors["ma"]
    ma.write_batch_size = 100
    # the second lookup is sent once the run has read and planned another chunk: on a machine busy with a
    # mutation run's other workers that can take longer than the usual moment
    calls = InFlight(ma, "lookup_people", "apply_changes", patience=0.2)

    report = _sync(engine, world)

    assert report.status == "ok"
    assert len(world.ma_emails(lst)) == 20
    assert calls.calls >= 3  # two lookups and a write
    assert calls.most == 1


def test_a_target_taking_concurrent_calls_gets_one_write_at_a_time(world: World) -> None:
    # Lookups may overlap, but writes to one container go one at a time (Salesforce answers two concurrent
    # CampaignMember writes to one campaign with row-lock errors), and not alongside the first-page read
    # that prepares them (Marketo).
    _, lst, _ = _seed(world, 20)
    engine, _ = _engine(world, world.config(MIRROR), concurrent=True)
    writes = InFlight(engine.connectors["ma"], "prepare_writes", "apply_changes")

    report = _sync(engine, world)

    assert report.status == "ok"
    assert len(world.ma_emails(lst)) == 20
    assert writes.calls > 2
    assert writes.most == 1
