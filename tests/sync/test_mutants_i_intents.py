"""A run killed right after the target applied its batch, before it recorded the answers: the intents it
wrote before sending let the next run settle what happened from the target's word (an add that landed is
the rule's own; a removal that landed leaves nothing behind), as a user sees it in the log and the list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.mapping.model import Change, ChangeOutcome, Container
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import Kind, RunReport
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


class Killed(BaseException):
    """The worker's process killed (as by a deploy) while a batch is on the wire."""


def _engine(world: World, cfg: Any, *, killed: bool = False) -> Engine:
    connectors = {name: build_connector(name, s) for name, s in cfg.connections.items()}
    ma: Any = connectors["ma"]
    if killed:
        applied = ma.apply_changes

        def apply_then_die(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
            applied(container, changes)  # the target did the work; the answer never gets back
            raise Killed

        ma.apply_changes = apply_then_die
    return Engine(cfg, world.store, connectors, clock=world.clock)


def _sync(world: World, cfg: Any) -> RunReport:
    report = _engine(world, cfg).sync("web")
    world.clock.tick(60)
    return report


def _killed(world: World, cfg: Any) -> None:
    with pytest.raises(Killed):
        _engine(world, cfg, killed=True).sync("web")
    world.clock.tick(60)


def test_an_add_a_killed_run_sent_is_the_rules_own_and_removed_when_the_person_leaves(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ann = world.crm_person("ann@x.com")
    world.crm.add_member(camp, ann, "Responded")
    world.ma_person("ann@x.com")
    cfg = world.config(MIRROR)

    _killed(world, cfg)
    assert world.ma_emails(lst) == {"ann@x.com"}

    after = _sync(world, cfg)
    assert after.status == "ok"
    assert [(d.kind, d.detail) for d in after.decisions] == [
        (
            Kind.ALREADY_MEMBER,
            "added by a run that stopped before recording it (the target shows this integration added it): "
            "this rule's own",
        )
    ]

    world.crm.remove_member(camp, ann)
    gone = _sync(world, cfg)
    assert gone.counts.get("removed") == 1
    assert world.ma_emails(lst) == set()


def test_a_removal_a_killed_run_sent_leaves_nothing_for_the_next_run(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ann = world.crm_person("ann@x.com")
    world.crm.add_member(camp, ann, "Responded")
    world.ma_person("ann@x.com")
    cfg = world.config(MIRROR)
    _sync(world, cfg)
    world.crm.remove_member(camp, ann)

    _killed(world, cfg)
    assert world.ma_emails(lst) == set()

    after = _sync(world, cfg)
    assert after.status == "ok"
    assert (after.decisions, after.counts.get("released", 0)) == ([], 0)  # nothing "left in place"
    world.crm.add_member(camp, ann, "Responded")  # she comes back: added again, as the rule's own
    back = _sync(world, cfg)
    assert back.counts.get("added") == 1
    assert world.ma_emails(lst) == {"ann@x.com"}
