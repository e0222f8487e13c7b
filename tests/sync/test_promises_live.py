"""`validate --live`: every rule's containers looked up in the systems, each problem at its rule's line,
and every rule checked even after one fails."""

from __future__ import annotations

from campaign_bridge.errors import FatalError
from campaign_bridge.sync.live import live_problems
from tests.sync.world import World

RULES = """
  - name: seg
    from: {connection: ma, segment: {field: score, gte: 50}}
    to: {connection: crm, campaign: Gone, status: Sent}
  - name: lost
    from: {connection: crm, campaign: Nowhere}
    to: {connection: ma, list: Missing}
  - name: fine
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
  - name: loop
    from: {connection: ma, list: Nurture}
    to: {connection: ma, list: "NURTURE_ID"}
"""
LINES = {"seg": 10, "lost": 13, "fine": 16, "loop": 19}


def test_every_rule_is_checked_and_each_problem_names_its_rule_side_and_line(world: World) -> None:
    world.campaign("Webinar")
    cfg = world.config(RULES.replace("NURTURE_ID", world.ma_list("Nurture")))  # one list, by name and by id
    problems = live_problems(cfg, world.engine(cfg).connectors, LINES)
    said = [(p.file, p.line, p.message.split(":")[0]) for p in problems]
    assert said == [
        (cfg.path, 10, "rule 'seg' to"),  # a segment source has no container to look up; its target does
        (cfg.path, 13, "rule 'lost' from"),
        (cfg.path, 13, "rule 'lost' to"),
        (cfg.path, 19, "rule 'loop' reads and writes the same container"),
    ]
    assert "Gone" in problems[0].message
    assert "Nowhere" in problems[1].message
    assert "Missing" in problems[2].message


def test_a_connection_that_cannot_list_its_containers_fails_each_of_its_rules_once_asked(world: World) -> None:
    world.campaign("Webinar")
    cfg = world.config(RULES.replace("NURTURE_ID", world.ma_list("Nurture")))  # one list, by name and by id
    connectors = world.engine(cfg).connectors
    asked = []

    def refuse():  # type: ignore[no-untyped-def]
        asked.append(1)
        raise FatalError("ma: the portal refused the listing")

    connectors["ma"].list_containers = refuse  # type: ignore[method-assign]
    problems = live_problems(cfg, connectors, LINES)
    assert len(asked) == 1
    messages = [p.message for p in problems if "refused the listing" in p.message]
    assert messages == [
        "rule 'lost' to: ma: the portal refused the listing",
        "rule 'fine' to: ma: the portal refused the listing",
        "rule 'loop' from: ma: the portal refused the listing",
        "rule 'loop' to: ma: the portal refused the listing",
    ]
