"""``Engine(on_run_started=…)``: a caller learns a sync's run id as soon as its ``runs`` row exists."""

from __future__ import annotations

from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.sync.engine import Engine
from tests.sync.world import World

RULE = "  - {name: a, from: {connection: crm, campaign: S}, to: {connection: ma, list: L}}"


def test_a_sync_announces_its_run_id_before_it_reads(world: World) -> None:
    world.campaign("S")
    world.ma_list("L")
    world.crm_person("ann@example.com")
    config = world.config(RULE)
    connectors = {name: build_connector(name, s) for name, s in config.connections.items()}
    heard: list[tuple[str, int, list[str]]] = []

    def started(rule: str, run_id: int) -> None:
        # The row is there, still running, when the engine says so.
        heard.append((rule, run_id, [r["status"] for r in world.store.runs(limit=5, rule=rule) if r["id"] == run_id]))

    engine = Engine(config, world.store, connectors, clock=world.clock, on_run_started=started)
    report = engine.sync("a")
    assert report.run_id is not None
    assert heard == [("a", report.run_id, ["running"])]


def test_a_plan_has_no_run_to_announce(world: World) -> None:
    world.campaign("S")
    world.ma_list("L")
    config = world.config(RULE)
    connectors = {name: build_connector(name, s) for name, s in config.connections.items()}
    heard: list[tuple[str, int]] = []
    Engine(config, world.store, connectors, clock=world.clock, on_run_started=lambda r, i: heard.append((r, i))).plan(
        "a"
    )
    assert heard == []
