"""The follow-ups a write calls for (``BatchWriter.write``): members already in the target at a lower status
are raised in whole write batches, and a raise that fails leaves the run partial, to be retried by the next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import Change, ChangeAction, ChangeOutcome, Container, ContainerKind
from campaign_bridge.sync.plan import RunReport
from tests.sync.world import World

STATUSES = [("Registered", False), ("Attended", True)]
RULE = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, program: Webinar program, status: Attended}
    mode: mirror
"""
PEOPLE = [f"p{i}@x.com" for i in range(4)]


def _seed(world: World) -> str:
    """Four people in the source campaign, already in the target program at a lower status."""
    camp = world.campaign("Webinar")
    program = world.ma.add_container("Webinar program", ContainerKind.PROGRAM, STATUSES)
    for email in PEOPLE:
        world.crm.add_member(camp, world.crm_person(email), "Sent")
        world.ma.add_member(program, world.ma_person(email), "Registered")
    return program


def _statuses(world: World, program: str) -> dict[str, str | None]:
    return {world.ma.people[p].email or "": s for p, s in world.ma.members(program).items()}


def _sync(world: World, writes: list[list[ChangeAction]], fail_raises: bool = False) -> RunReport:
    """A sync of "web" whose target records each write it is sent (its actions); ``fail_raises``: the
    target answers a write of status changes with a 502."""
    engine = world.engine(world.config(RULE))
    ma: Any = engine.connectors["ma"]
    apply = ma.apply_changes

    def recorded(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        writes.append([c.action for c in changes])
        if fail_raises and any(c.action is ChangeAction.SET_STATUS for c in changes):
            raise TransientError("Marketo answered 502 Bad Gateway")
        return list(apply(container, changes))

    ma.apply_changes = recorded
    report = engine.sync("web")
    world.clock.tick(60)
    return report


def test_members_already_there_at_a_lower_status_are_raised_in_one_write(world: World) -> None:
    program = _seed(world)
    writes: list[list[ChangeAction]] = []
    report = _sync(world, writes)
    assert report.status == "ok"
    assert _statuses(world, program) == dict.fromkeys(PEOPLE, "Attended")
    # the adds (found already there), then the four raises together: not one write per member
    assert writes == [[ChangeAction.ADD] * 4, [ChangeAction.SET_STATUS] * 4]


def test_a_raise_that_fails_leaves_the_run_partial_and_the_next_run_raises(world: World) -> None:
    program = _seed(world)
    failed = _sync(world, [], fail_raises=True)
    assert failed.status == "partial"
    assert _statuses(world, program) == dict.fromkeys(PEOPLE, "Registered")

    again = _sync(world, [])
    assert again.status == "ok"
    assert _statuses(world, program) == dict.fromkeys(PEOPLE, "Attended")
