"""The safety hold and the dead-letter threshold, each seen from several sides: what the target keeps,
what the run says, what `plan` shows, and where each limit starts."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from campaign_bridge.mapping.model import Change, ChangeOutcome, OutcomeState
from campaign_bridge.sync.plan import Kind
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def _seeded(world: World, members: int) -> tuple[str, str, list[str]]:
    """A campaign of ``members`` people and an empty list; returns the campaign, the list and the CRM ids."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = [world.crm_person(f"p{i}@x.com") for i in range(members)]
    for pid in ids:
        world.crm.add_member(camp, pid, "Responded")
    return camp, lst, ids


def _config(world: World, safety: str):  # type: ignore[no-untyped-def]
    return world.config(MIRROR + f"    safety: {safety}\n")


def test_a_plan_removing_too_large_a_share_is_held_on_the_fraction_alone(world: World) -> None:
    camp, lst, ids = _seeded(world, 20)
    cfg = _config(world, "{max_removals: 1000, max_removal_fraction: 0.3}")
    world.sync(cfg, "web")
    for pid in ids[:10]:
        world.crm.remove_member(camp, pid)

    report = world.sync(cfg, "web")

    assert report.status == "held"
    assert "removes 10 of 20 members, more than max_removal_fraction=0.3" in report.message
    assert len(world.ma.members(lst)) == 20
    assert report.counts.get("removed", 0) == 0
    held = [(d.detail, d.container) for d in report.decisions if d.kind is Kind.HELD_PLAN]
    assert held == [(report.message, "Nurture")]


def test_plan_shows_a_plan_held_on_the_fraction_and_writes_nothing(world: World) -> None:
    camp, lst, ids = _seeded(world, 20)
    cfg = _config(world, "{max_removals: 1000, max_removal_fraction: 0.3}")
    world.sync(cfg, "web")
    for pid in ids[:12]:
        world.crm.remove_member(camp, pid)
    planned = world.engine(cfg).plan("web", full=True)
    assert planned.status == "held"
    assert "12 of 20" in planned.message
    assert len(world.ma.members(lst)) == 20


@pytest.mark.parametrize(
    ("members", "leaving", "held"),
    [
        (20, 9, False),  # under ten removals the share is not judged: one leaver of a small list is a large share
        (40, 10, False),  # 25% is within 30%
        (30, 10, True),  # 33% is over 30%
    ],
)
def test_the_fraction_limit_starts_at_ten_removals_and_compares_with_the_members_owned(
    world: World, members: int, leaving: int, held: bool
) -> None:
    camp, lst, ids = _seeded(world, members)
    cfg = _config(world, "{max_removals: 1000, max_removal_fraction: 0.3}")
    world.sync(cfg, "web")
    for pid in ids[:leaving]:
        world.crm.remove_member(camp, pid)
    report = world.sync(cfg, "web")
    assert (report.status == "held") is held
    assert len(world.ma.members(lst)) == (members if held else members - leaving)


@pytest.mark.parametrize(("leaving", "held"), [(5, False), (6, True)])
def test_the_count_limit_holds_only_a_plan_removing_more_than_it(world: World, leaving: int, held: bool) -> None:
    camp, lst, ids = _seeded(world, 40)
    cfg = _config(world, "{max_removals: 5, max_removal_fraction: 1.0}")
    world.sync(cfg, "web")
    for pid in ids[:leaving]:
        world.crm.remove_member(camp, pid)
    report = world.sync(cfg, "web")
    assert (report.status == "held") is held
    if held:
        assert "the plan removes 6 members, more than max_removals=5" in report.message
    assert len(world.ma.members(lst)) == (40 if held else 35)


def test_a_held_removal_is_applied_once_the_limit_is_raised(world: World) -> None:
    camp, lst, ids = _seeded(world, 20)
    world.sync(_config(world, "{max_removals: 3}"), "web")
    for pid in ids[:4]:
        world.crm.remove_member(camp, pid)
    assert world.sync(_config(world, "{max_removals: 3}"), "web").status == "held"
    report = world.sync(_config(world, "{max_removals: 10}"), "web")
    assert report.status == "ok"
    assert report.counts.get("removed") == 4
    assert len(world.ma.members(lst)) == 16


# -- the dead-letter threshold -------------------------------------------------------------------------


def _failing_for(world: World, engine, email: str) -> None:  # type: ignore[no-untyped-def]
    """The target fails every write of ``email`` (a per-item failure, worth a retry); the rest land."""
    connector = engine.connectors["ma"]
    real = connector.apply_changes

    def apply(container, changes: Sequence[Change]) -> list[ChangeOutcome]:  # type: ignore[no-untyped-def]
        keep = [c for c in changes if world.ma.people[c.target.id].email != email]
        done = iter(real(container, keep))
        return [
            next(done)
            if world.ma.people[c.target.id].email != email
            else ChangeOutcome(c, OutcomeState.FAILED, "UNAVAILABLE", "try again later")
            for c in changes
        ]

    connector.apply_changes = apply


def test_a_failing_member_is_retried_until_max_attempts_then_dead_lettered_alone(world: World) -> None:
    _, lst, _ = _seeded(world, 3)
    for i in range(3):
        world.ma_person(f"p{i}@x.com")
    engine = world.engine(world.config(MIRROR, defaults="defaults: {max_attempts: 3}"))
    _failing_for(world, engine, "p1@x.com")

    reports = []
    for _ in range(4):
        reports.append(engine.sync("web"))
        world.clock.tick(60)

    assert world.ma_emails(lst) == {"p0@x.com", "p2@x.com"}
    dead = [[d.detail for d in r.decisions if d.kind is Kind.DEAD_LETTER] for r in reports]
    # tried on three runs; the third failure gives up, and the fourth run leaves it alone
    assert dead == [[], [], ["gave up after 3 attempts: UNAVAILABLE: try again later"], []]
    assert [r.counts.get("failed", 0) for r in reports] == [1, 1, 1, 0]
    assert [r.status for r in reports[:2]] == ["partial", "partial"]


def test_lowering_max_attempts_stops_retrying_what_already_failed_that_often(world: World) -> None:
    _seeded(world, 2)
    for i in range(2):
        world.ma_person(f"p{i}@x.com")
    engine = world.engine(world.config(MIRROR, defaults="defaults: {max_attempts: 5}"))
    _failing_for(world, engine, "p1@x.com")
    for _ in range(2):
        engine.sync("web")
        world.clock.tick(60)
    lowered = world.engine(world.config(MIRROR, defaults="defaults: {max_attempts: 2}"))
    report = lowered.sync("web", full=True)
    assert report.counts.get("failed", 0) == 0
    assert report.counts.get("added", 0) == 0  # not sent again: two failures already reached the limit


@pytest.mark.parametrize(
    ("code", "message", "says"),
    [
        ("UNAVAILABLE", "try again later", "UNAVAILABLE: try again later"),
        (None, "try again later", "try again later"),
        (None, None, "failed"),
    ],
)
def test_a_dead_lettered_member_shows_in_the_conflicts_with_its_list_and_error(
    world: World, code: str | None, message: str | None, says: str
) -> None:
    _seeded(world, 1)
    world.ma_person("p0@x.com")
    engine = world.engine(world.config(MIRROR, defaults="defaults: {max_attempts: 1}"))
    real = engine.connectors["ma"].apply_changes
    engine.connectors["ma"].apply_changes = lambda container, changes: [  # type: ignore[method-assign]
        ChangeOutcome(c, OutcomeState.FAILED, code, message) for c in changes
    ]
    engine.sync("web")
    engine.connectors["ma"].apply_changes = real  # type: ignore[method-assign]
    conflicts = world.store.decisions(rule="web", conflicts_only=True)
    assert [(c["kind"], c["email"], c["container"], c["detail"]) for c in conflicts] == [
        ("dead_letter", "p0@x.com", "ma:Nurture", f"gave up after 1 attempts: {says}")
    ]
    assert conflicts[0]["person_key"] == world.store.persons_by_emails(["p0@x.com"])["p0@x.com"]


def test_a_refused_member_shows_in_the_conflicts_with_its_list_and_the_refusal(world: World) -> None:
    _, lst, _ = _seeded(world, 1)
    world.ma_person("p0@x.com")
    world.ma.containers[lst].reject["p0@x.com"] = ("INVALID_EMAIL", "blocked by a validation rule")
    world.sync(world.config(MIRROR), "web")
    conflicts = world.store.decisions(rule="web", conflicts_only=True)
    assert [(c["kind"], c["container"], c["detail"]) for c in conflicts] == [
        ("rejected_record", "ma:Nurture", "add refused by the target: INVALID_EMAIL: blocked by a validation rule")
    ]
    assert conflicts[0]["person_key"] == world.store.persons_by_emails(["p0@x.com"])["p0@x.com"]
