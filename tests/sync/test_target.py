"""``sync.target``: the one check that a rule may write to its target, and where it writes."""

from __future__ import annotations

import pytest

from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.sync.target import resolve_target, target_problem
from tests.sync.world import World


def test_resolve_target_gives_the_status_as_the_system_spells_it(world: World) -> None:
    world.campaign("C", [("Sent", False), ("Attended", True)])
    config = world.config(
        "  - {name: a, from: {connection: ma, list: L}, to: {connection: crm, campaign: C, status: attended}}"
    )
    world.ma_list("L")
    connectors = {name: build_connector(name, s) for name, s in config.connections.items()}
    target = resolve_target(config.rule("a"), connectors)
    assert (target.container.name, target.status) == ("C", "Attended")
    assert target.connector is connectors["crm"]


def test_a_dynamic_list_is_refused_with_the_rule_named(world: World) -> None:
    world.ma_list("Engaged", ContainerKind.DYNAMIC_LIST)
    world.campaign("S")
    config = world.config("  - {name: a, from: {connection: crm, campaign: S}, to: {connection: ma, list: Engaged}}")
    connectors = {name: build_connector(name, s) for name, s in config.connections.items()}
    rule = config.rule("a")
    container = connectors["ma"].find_container("list", "Engaged")
    problem = target_problem(rule, connectors["ma"].system, container)
    assert problem is not None
    assert problem.startswith("cannot write to 'Engaged': ")
    with pytest.raises(FatalError) as raised:
        resolve_target(rule, connectors)
    assert str(raised.value) == f"rule 'a': {problem}"


def test_an_unconfigured_connection_is_fatal(world: World) -> None:
    world.campaign("S")
    world.ma_list("L")
    config = world.config("  - {name: a, from: {connection: crm, campaign: S}, to: {connection: ma, list: L}}")
    with pytest.raises(FatalError, match="connection 'ma' is not configured"):
        resolve_target(config.rule("a"), {})
