"""The batch writer as a user meets it: a stop asked for between batches, a long apply keeping its rule
from another worker, a vendor's transient failure carried into the dead letter's message, progress, and
what ``plan`` leaves in the decision log (nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.errors import LeaseHeldError, TransientError
from campaign_bridge.mapping.model import Change, ChangeOutcome, Container
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import Kind
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def _seed(world: World, people: int) -> tuple[str, str, list[str]]:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = []
    for i in range(people):
        pid = world.crm_person(f"p{i:02d}@x.com")
        world.crm.add_member(camp, pid, "Responded")
        world.ma_person(f"p{i:02d}@x.com")
        ids.append(pid)
    return camp, lst, ids


def _engine(world: World, cfg: Any, **kw: Any) -> Engine:
    connectors = {name: build_connector(name, s) for name, s in cfg.connections.items()}
    ma: Any = connectors["ma"]
    ma.write_batch_size = ma.lookup_batch_size = 10
    return Engine(cfg, world.store, connectors, clock=world.clock, **kw)


def test_a_stop_asked_for_between_batches_ends_the_run_partial_and_the_next_run_finishes(world: World) -> None:
    camp, lst, ids = _seed(world, 40)
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    for pid in ids[:25]:
        world.crm.remove_member(camp, pid)
    cfg = world.config(MIRROR + "    safety: {max_removals: 1000, max_removal_fraction: 1.0}\n")

    applied: list[tuple[int, int]] = []
    engine = _engine(
        world,
        cfg,
        progress=lambda stage, done, total: applied.append((done, total)) if stage == "apply" else None,
        should_stop=lambda: bool(applied),  # asked for once the first batch is recorded
    )
    report = engine.sync("web")
    world.clock.tick(60)

    assert report.status == "partial"
    assert report.message == "stopped on request after the current batch; the next run continues"
    assert applied == [(10, 25)]  # progress: one batch of the 25 removals
    assert report.counts.get("removed") == 10
    assert len(world.ma.members(lst)) == 30

    done = _sync_all(world, cfg)
    assert done.status == "ok"
    assert done.counts.get("removed") == 15
    assert world.ma_emails(lst) == {f"p{i:02d}@x.com" for i in range(25, 40)}


def _sync_all(world: World, cfg: Any) -> Any:
    report = _engine(world, cfg).sync("web")
    world.clock.tick(60)
    return report


def test_a_long_apply_renews_the_lease_so_another_worker_cannot_take_the_rule(world: World) -> None:
    _seed(world, 50)
    cfg = world.config(MIRROR)
    engine = _engine(world, cfg, holder="elsewhere-a:1:a")
    ma: Any = engine.connectors["ma"]
    real = ma.apply_changes
    other: list[str] = []

    def slow(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        out = real(container, changes)
        world.clock.tick(6 * 60)  # a paced vendor: six minutes a batch, 30 for the run
        if len(other) < 5:
            try:
                _engine(world, cfg, holder="elsewhere-b:1:b").sync("web")  # a worker on another host
                other.append("ran")
            except LeaseHeldError:
                other.append("refused")
        return out

    ma.apply_changes = slow
    report = engine.sync("web")

    assert report.status == "ok"
    assert report.counts["added"] == 50
    assert other == ["refused"] * 5


def test_a_target_failing_transiently_dead_letters_with_the_vendors_message(world: World) -> None:
    _seed(world, 3)
    cfg = world.config(MIRROR, defaults="defaults: {max_attempts: 2}")

    def failing(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        raise TransientError("HubSpot answered 502 Bad Gateway")

    reports = []
    for _ in range(2):
        engine = _engine(world, cfg)
        engine.connectors["ma"].apply_changes = failing  # type: ignore[method-assign]
        reports.append(engine.sync("web"))
        world.clock.tick(60)

    assert [r.status for r in reports] == ["partial", "partial"]
    assert reports[0].counts.get("failed") == 3
    dead = sorted((d.email, d.detail) for d in reports[1].decisions if d.kind is Kind.DEAD_LETTER)
    detail = "gave up after 2 attempts: TRANSIENT: HubSpot answered 502 Bad Gateway"
    assert dead == [(f"p{i:02d}@x.com", detail) for i in range(3)]


def test_plan_logs_no_decision_and_sync_logs_each_once(world: World) -> None:
    camp, lst, ids = _seed(world, 12)
    cfg = world.config(MIRROR + "    safety: {max_removals: 3}\n")
    report = _engine(world, cfg).sync("web")
    logged = world.store.decisions(rule="web")
    assert sorted(d["email"] for d in logged if d["kind"] == "added") == sorted(f"p{i:02d}@x.com" for i in range(12))
    assert len(logged) == len(report.decisions)

    for pid in ids[:6]:
        world.crm.remove_member(camp, pid)
    planned = _engine(world, cfg).plan("web")
    assert [d.kind for d in planned.decisions] == [Kind.HELD_PLAN]  # what plan shows...
    assert world.store.decisions(rule="web", kind="held_plan") == []  # ...is not logged as done


@pytest.mark.parametrize("people", [9, 10, 11, 25])
def test_progress_counts_every_write_up_to_the_total(world: World, people: int) -> None:
    camp, lst, ids = _seed(world, people)
    cfg = world.config(MIRROR + "    safety: {max_removals: 1000, max_removal_fraction: 1.0}\n")
    world.sync(cfg, "web")
    for pid in ids:
        world.crm.remove_member(camp, pid)
    applied: list[tuple[int, int]] = []
    engine = _engine(
        world, cfg, progress=lambda stage, done, total: applied.append((done, total)) if stage == "apply" else None
    )
    report = engine.sync("web")
    assert report.counts.get("removed") == people
    assert applied[-1] == (people, people)
    assert [d for d, _ in applied] == sorted({min(people, k) for k in range(10, people + 10, 10)})
    assert world.ma_emails(lst) == set()


RAISE = """
  - name: attended
    from: {connection: ma, list: Attendees}
    to: {connection: crm, campaign: Event, status: Attended}
    match: {prefer: contact, create_missing: skip}
"""


def test_a_run_killed_while_raising_a_status_leaves_the_member_in_place(world: World) -> None:
    """A status change is not a removal: a run killed while it raises a member's status must not leave
    a row that makes the next run (or ``explain``) take the member for one being removed."""
    from campaign_bridge.sync.explain import explain

    camp = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    world.crm.add_member(camp, world.crm_person("ada@x.com"), "Invited")  # put there by hand
    cfg = world.config(RAISE)
    engine = world.engine(cfg)
    crm: Any = engine.connectors["crm"]
    real = crm.apply_changes
    calls: list[int] = []

    def killed_on_the_raise(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        calls.append(len(changes))
        if len(calls) == 2:  # the follow-up that raises her status: the worker is killed
            raise KeyboardInterrupt
        return real(container, changes)

    crm.apply_changes = killed_on_the_raise
    with pytest.raises(KeyboardInterrupt):
        engine.sync("attended")
    world.clock.tick(60)

    (entry,) = explain(world.store, cfg, "ada@x.com")
    assert entry["verdict"] == "in crm:Event with status 'Invited'; was already there (not added by this rule)"

    again = world.sync(cfg, "attended", full=True)
    assert again.status == "ok"
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}


def test_a_run_killed_while_raising_its_own_members_status_leaves_them_in_place(world: World) -> None:
    from campaign_bridge.sync.explain import explain

    camp = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    world.crm_person("ada@x.com")
    world.sync(world.config(RAISE.replace("status: Attended", "status: Registered")), "attended")
    assert world.crm_members(camp) == {"ada@x.com": "Registered"}
    cfg = world.config(RAISE)  # the rule now writes Attended: her status is raised
    engine = world.engine(cfg)
    crm: Any = engine.connectors["crm"]

    def killed(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        raise KeyboardInterrupt

    crm.apply_changes = killed
    with pytest.raises(KeyboardInterrupt):
        engine.sync("attended", full=True)
    world.clock.tick(60)

    (entry,) = explain(world.store, cfg, "ada@x.com")
    assert entry["verdict"] == "in crm:Event with status 'Registered'; added by this rule"
    again = world.sync(cfg, "attended", full=True)
    assert again.status == "ok"
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
