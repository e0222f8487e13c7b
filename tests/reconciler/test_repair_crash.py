"""A repair killed mid-write converges like a killed sync: its writes go through the engine's batch writer."""

from __future__ import annotations

from collections.abc import Sequence

from campaign_bridge.mapping.model import Change, ChangeOutcome, Container
from campaign_bridge.reconciler import Reconciler
from tests.reconciler.helpers import config
from tests.sync.world import World

RULE = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
    on_manual_removal: restore
"""


class Killed(Exception):
    """Stands for the process dying after the target applied a batch, before its outcomes were recorded."""


def test_a_restore_killed_after_the_target_applied_it_is_still_the_rules_own(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a, b = world.crm_person("a@x.com"), world.crm_person("b@x.com")
    world.crm.add_member(camp, a)
    world.crm.add_member(camp, b)
    world.ma.add_member(lst, world.ma_person("b@x.com"))  # b was in the list by hand before the rule ran
    cfg = config(world, RULE)
    world.sync(cfg, "web")
    world.ma.remove_member(lst, world.ma.person_id("b@x.com"))  # then taken out by hand

    connectors = world.engine(cfg).connectors
    ma = connectors["ma"]
    real = ma.apply_changes

    def apply(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        real(container, changes)
        raise Killed

    ma.apply_changes = apply  # type: ignore[method-assign]
    try:
        Reconciler(cfg, world.store, connectors, clock=world.clock).reconcile("web", repair=True)
        raise AssertionError("the repair was expected to die in its write")
    except Killed:
        pass
    world.clock.tick(60)

    # The restore reached the target; the ledger holds its intent, which is not yet ownership.
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}
    key = world.store.persons_by_emails(["b@x.com"])["b@x.com"]
    row = world.store.ledger("web")[key]
    assert (row.state, row.owned) == ("pending", False)

    # The next sync asks the target: b joined after the intent, so the rule put b back; when b leaves the source the rule removes the member it put back.
    world.sync(cfg, "web")
    row = world.store.ledger("web")[key]
    assert (row.state, row.owned) == ("present", True)
    world.crm.remove_member(camp, b)
    world.sync(cfg, "web")
    assert world.ma_emails(lst) == {"a@x.com"}
