"""A rule's ``to.status_map``: each source member status sets its own target status, rises are followed and
a status is never lowered; statuses either side lacks are refused before a run writes anything."""

from __future__ import annotations

import pytest

from campaign_bridge.errors import ConfigError, FatalError
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.sync.live import live_problems
from tests.sync.world import World

STATUSES = [("Invited", False), ("Registered", False), ("Attended", True)]
RULE = """
  - name: webinar
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, program: Webinar program, status_map: {Registered: Registered, Attended: Attended}}
    mode: mirror
"""


def _seed(world: World) -> tuple[str, str, dict[str, str]]:
    campaign = world.campaign("Webinar", STATUSES)
    program = world.ma.add_container("Webinar program", ContainerKind.PROGRAM, STATUSES)
    people = {}
    for email, status in (
        ("ada@x.example", "Registered"),
        ("grace@x.example", "Attended"),
        ("ed@x.example", "Invited"),
    ):
        people[email] = world.crm_person(email)
        world.crm.add_member(campaign, people[email], status)
        world.ma_person(email)
    return campaign, program, people


def _program(world: World, program: str) -> dict[str, str | None]:
    return {world.ma.people[pid].email or "": st for pid, st in world.ma.members(program).items()}


def test_each_source_status_sets_its_mapped_status_and_unmapped_ones_are_not_selected(world: World) -> None:
    _, program, _ = _seed(world)
    report = world.sync(world.config(RULE), "webinar")
    assert report.status == "ok"
    assert _program(world, program) == {"ada@x.example": "Registered", "grace@x.example": "Attended"}


def test_rises_are_followed_never_lowered_and_a_rerun_changes_nothing(world: World) -> None:
    campaign, program, people = _seed(world)
    config = world.config(RULE)
    world.sync(config, "webinar")
    world.crm.add_member(campaign, people["ada@x.example"], "Attended")  # ada attended after all
    world.crm.add_member(campaign, people["grace@x.example"], "Registered")  # sales lowered grace by hand
    report = world.sync(config, "webinar")
    assert _program(world, program) == {"ada@x.example": "Attended", "grace@x.example": "Attended"}
    assert [i.email for i in report.status_changes] == ["ada@x.example"]
    assert any("never moves backwards" in d.detail for d in report.decisions)
    again = world.sync(config, "webinar")
    assert (again.adds, again.status_changes, again.removals) == ([], [], [])


def test_a_status_the_program_lacks_is_refused_before_anything_is_written(world: World) -> None:
    _, program, _ = _seed(world)
    config = world.config(RULE.replace("Attended: Attended", "Attended: Came"))
    problems = live_problems(config, world.engine(config).connectors, {"webinar": 3})
    assert any("has no member status 'Came'" in p.message for p in problems)
    with pytest.raises(FatalError, match="'Came'"):
        world.sync(config, "webinar")
    assert _program(world, program) == {}


def test_a_source_status_the_campaign_lacks_is_refused(world: World) -> None:
    _seed(world)
    config = world.config(RULE.replace("Registered: Registered", "Registred: Registered"))
    problems = live_problems(config, world.engine(config).connectors, {"webinar": 3})
    assert any("no member status 'Registred'; did you mean 'Registered'" in p.message for p in problems)


def test_status_and_status_map_together_are_a_config_error(world: World) -> None:
    with pytest.raises(ConfigError, match="not both"):
        world.config(RULE.replace("status_map:", "status: Registered, status_map:"))


def test_reconcile_finds_a_status_map_rule_in_sync(world: World) -> None:
    from tests.reconciler.helpers import reconcile

    _seed(world)
    config = world.config(RULE)
    world.sync(config, "webinar")
    report = reconcile(world, config, "webinar")
    assert report.status == "ok"
    # ada and grace; ed (Invited) is not in the map, so not wanted: nothing is pending
    assert (report.counts.get("in_sync"), report.counts.get("pending", 0)) == (2, 0)
