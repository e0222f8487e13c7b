"""A member the rule added stays its own through a removal that failed: when the person comes back to the
source before the removal went through, the target answers "already a member", the log says the member
is still the rule's, and a mirror rule removes them when they leave again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.errors import TransientError
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


def _sync(world: World, cfg: Any, *, failing: bool = False) -> RunReport:
    connectors = {name: build_connector(name, s) for name, s in cfg.connections.items()}
    if failing:

        def down(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
            raise TransientError("HubSpot answered 502 Bad Gateway")

        connectors["ma"].apply_changes = down  # type: ignore[method-assign]
    report = Engine(cfg, world.store, connectors, clock=world.clock).sync("web")
    world.clock.tick(60)
    return report


def test_a_member_whose_removal_failed_and_who_came_back_is_still_the_rules_own(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ann = world.crm_person("ann@x.com")
    world.crm.add_member(camp, ann, "Responded")
    world.ma_person("ann@x.com")
    cfg = world.config(MIRROR)
    assert _sync(world, cfg).counts.get("added") == 1

    world.crm.remove_member(camp, ann)
    assert _sync(world, cfg, failing=True).counts.get("failed") == 1  # the removal never went through
    assert world.ma_emails(lst) == {"ann@x.com"}

    world.crm.add_member(camp, ann, "Responded")  # back before the removal was retried
    back = _sync(world, cfg)
    assert back.status == "ok"
    assert [(d.kind, d.detail) for d in back.decisions if d.email == "ann@x.com"] == [
        (Kind.ALREADY_MEMBER, "already a member, added by this rule before (still its own)")
    ]

    world.crm.remove_member(camp, ann)  # she leaves again: the mirror rule removes its own member
    gone = _sync(world, cfg)
    assert gone.counts.get("removed") == 1
    assert world.ma_emails(lst) == set()
