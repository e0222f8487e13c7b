"""The engine's promises that only show across threads: what the memory connectors, safe across threads,
cannot show by themselves (docs/testing.md, "Every survivor, explained")."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.sync.engine import Engine
from tests.sync.test_promises_same_system import RULE
from tests.sync.world import World


def _recording(connector: Connector, threads: set[str]) -> None:
    """Every public method of ``connector`` records the name of the thread that calls it, and a method that
    answers with an iterator (a read, page by page) the thread that takes each item from it."""

    def items(answer: Iterator[Any]) -> Iterator[Any]:
        for item in answer:
            threads.add(threading.current_thread().name)
            yield item

    for name in dir(connector):
        method = getattr(connector, name)
        if name.startswith("_") or not callable(method):
            continue

        def call(*args: Any, _method: Callable[..., Any] = method, **kwargs: Any) -> Any:
            threads.add(threading.current_thread().name)
            answer = _method(*args, **kwargs)
            return items(answer) if isinstance(answer, Iterator) else answer

        setattr(connector, name, call)


@pytest.mark.parametrize("kind", ["Contact", "Lead"])
def test_a_rule_within_one_connection_uses_its_connector_from_the_runs_own_thread(world: World, kind: str) -> None:
    # One connector serves both ends of the rule. A vendor's client (a Salesforce session, a Dynamics token
    # cache) is not made to be shared by threads, so the run neither reads ahead nor looks people up in a
    # pool here: every call comes from the thread that runs the sync. With leads, the run also makes lookups
    # (a lead is looked up on every run: it may have been converted since), through that same connector.
    webinar, follow = world.campaign("Webinar"), world.campaign("Follow-up")
    for i in range(450):
        world.crm.add_member(webinar, world.crm_person(f"p{i}@x.com", kind), "Responded")
    cfg = world.config(RULE)
    connectors = {name: build_connector(name, settings) for name, settings in cfg.connections.items()}
    threads: set[str] = set()
    _recording(connectors["crm"], threads)

    report = Engine(cfg, world.store, connectors, clock=world.clock).sync("follow-up")

    assert report.status == "ok"
    assert len(world.crm_members(follow)) == 450
    assert threads == {threading.current_thread().name}
