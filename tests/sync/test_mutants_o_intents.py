"""What the next run makes of the adds and removals a killed run left in flight, as a user sees it: each
person's settled add logged once and counted, shown by ``explain`` with the status the target holds, the
rest of a batch settled whatever its first rows were, and an intent for a list the rule no longer targets
left to the differ."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.mapping.model import Change, ChangeOutcome, Container
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.plan import Kind, RunReport
from tests.sync.test_mutants_i_intents import MIRROR, Killed, _killed, _sync
from tests.sync.world import World

OURS = "added by a run that stopped before recording it (the target shows this integration added it): this rule's own"
NOT_OURS = "already a member (not added by this rule, so never removed by it)"

RAISE = """
  - name: web
    from: {connection: ma, list: Attendees}
    to: {connection: crm, campaign: Event, status: Attended}
    match: {prefer: contact, create_missing: skip}
"""


def _mirror_world(world: World, *emails: str) -> tuple[str, str, dict[str, str]]:
    """The Webinar campaign with each address a responded member, a contact in the MA for each, and Nurture."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    crm_ids = {}
    for email in emails:
        crm_ids[email] = world.crm_person(email)
        world.crm.add_member(camp, crm_ids[email], "Responded")
        world.ma_person(email)
    return camp, lst, crm_ids


def _settled(report: RunReport) -> list[tuple[str | None, str]]:
    return [(d.email, d.detail) for d in report.decisions if d.kind is Kind.ALREADY_MEMBER]


def test_each_add_a_killed_run_sent_is_settled_once_counted_and_shown_by_explain(world: World) -> None:
    _mirror_world(world, "ann@x.com", "bob@x.com")
    cfg = world.config(MIRROR)
    _killed(world, cfg)

    after = _sync(world, cfg)

    assert sorted(_settled(after)) == [("ann@x.com", OURS), ("bob@x.com", OURS)]
    assert after.counts["intents_settled"] == 2
    (web,) = explain(world.store, cfg, "bob@x.com")
    assert web["verdict"] == "in ma:Nurture; added by this rule"
    assert [(d["kind"], d["detail"]) for d in web["decisions"]] == [("already_member", OURS)]


def test_an_add_that_never_landed_does_not_keep_the_rest_of_its_batch_unsettled(world: World) -> None:
    camp, lst, crm = _mirror_world(world, "ann@x.com", "bob@x.com")
    cfg = world.config(MIRROR)
    _killed(world, cfg)
    ann = next(p for p, person in world.ma.people.items() if person.email == "ann@x.com")
    world.ma.remove_member(lst, ann)  # ann's add (her row first in the batch) as though it never landed

    after = _sync(world, cfg)

    assert _settled(after) == [("bob@x.com", OURS)]  # bob's add is the rule's own, not someone else's
    assert after.counts.get("added") == 1  # ann's add sent again
    for person in crm.values():
        world.crm.remove_member(camp, person)  # both leave the campaign
    _sync(world, cfg)
    assert world.ma_emails(lst) == set()  # both the rule's own, so both removed


def test_a_removal_that_landed_does_not_keep_the_rest_of_its_batch_unsettled(world: World) -> None:
    camp, lst, crm = _mirror_world(world, "ann@x.com")
    cfg = world.config(MIRROR)
    _sync(world, cfg)
    world.crm.remove_member(camp, crm["ann@x.com"])
    world.ma_person("bob@x.com")
    world.crm.add_member(camp, world.crm_person("bob@x.com"), "Responded")
    _killed(world, cfg)  # ann's removal (her row first) and bob's add, both applied, neither recorded
    assert world.ma_emails(lst) == {"bob@x.com"}

    after = _sync(world, cfg)

    assert _settled(after) == [("bob@x.com", OURS)]
    assert world.ma_emails(lst) == {"bob@x.com"}


def _killed_writing_to_crm(world: World, cfg: Any) -> None:
    """As ``_killed``, for a rule whose target is the CRM: the campaign takes the batch, the run dies."""
    connectors = {name: build_connector(name, s) for name, s in cfg.connections.items()}
    crm: Any = connectors["crm"]
    applied = crm.apply_changes

    def apply_then_die(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        applied(container, changes)
        raise Killed

    crm.apply_changes = apply_then_die
    with pytest.raises(Killed):
        Engine(cfg, world.store, connectors, clock=world.clock).sync("web")
    world.clock.tick(60)


def test_a_settled_add_keeps_the_status_the_target_holds(world: World) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    attendees = world.ma_list("Attendees")
    world.ma.add_member(attendees, world.ma_person("ann@x.com"))
    world.crm_person("ann@x.com")
    cfg = world.config(RAISE)
    _killed_writing_to_crm(world, cfg)
    assert world.crm_members(camp) == {"ann@x.com": "Attended"}

    after = _sync(world, cfg)

    # she has the status already: no status change is sent for her, nor logged
    assert [(d.kind, d.detail) for d in after.decisions] == [(Kind.ALREADY_MEMBER, OURS)]
    assert after.counts.get("status_changed", 0) == 0
    (web,) = explain(world.store, cfg, "ann@x.com")
    assert web["verdict"] == "in crm:Event with status 'Attended'; added by this rule"


def test_an_add_in_flight_to_a_list_the_rule_no_longer_targets_is_not_settled_from_the_new_list(
    world: World,
) -> None:
    _mirror_world(world, "ann@x.com")
    _killed(world, world.config(MIRROR))  # her add to Nurture in flight
    other = world.ma_list("Other")
    ann = next(p for p, person in world.ma.people.items() if person.email == "ann@x.com")
    world.ma.add_member(other, ann)  # a person puts her in Other by hand
    cfg = world.config(MIRROR.replace("list: Nurture", "list: Other"))  # and the rule is pointed at Other

    after = _sync(world, cfg)

    assert [(d.kind, d.detail) for d in after.decisions] == [(Kind.ALREADY_MEMBER, NOT_OURS)]
    (row,) = world.store.ledger("web").values()
    assert row.container_id == other  # the row is Other's, not the old list's
