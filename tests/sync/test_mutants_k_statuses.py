"""Member statuses on one step. A Marketo channel may give two statuses the same step (Marketo's own
advice for event channels puts "No Show" and "Attended" both at 30, so a person can be moved between them):
a run never moves a member sideways, and a person the source holds twice gets the same status whichever
record is read first. The memory CRM's statuses are given equal ranks here to stand for such a channel."""

from __future__ import annotations

import pytest

from campaign_bridge.mapping.model import MemberStatus
from campaign_bridge.sync.plan import Kind
from tests.sync.test_mutants_record import RAISE
from tests.sync.world import World

ONE_STEP = [("Registered", False), ("No Show", False), ("Attended", True)]


def _event(world: World) -> str:
    """A campaign whose last two statuses share a step, as Marketo's Webinar channel has them."""
    event = world.campaign("Event", ONE_STEP)
    steps = {"Registered": 20, "No Show": 30, "Attended": 30}
    container = world.crm.containers[event]
    container.statuses = [MemberStatus(s.label, s.responded, s.default, steps[s.label]) for s in container.statuses]
    return event


@pytest.mark.parametrize(("lead_status", "contact_status"), [("Responded", "Sent"), ("Sent", "Responded")])
def test_a_person_in_the_source_twice_at_two_statuses_of_one_step_gets_the_later_listed_one(
    world: World, lead_status: str, contact_status: str
) -> None:
    camp = world.campaign("Webinar")
    event = _event(world)
    world.crm.add_member(camp, world.crm_person("ada@x.com", "Lead"), lead_status)
    world.crm.add_member(camp, world.crm_person("ada@x.com"), contact_status)
    rule = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: crm, campaign: Event, status_map: {Sent: No Show, Responded: Attended}}
"""
    report = world.sync(world.config(rule), "web")

    assert report.status == "ok"
    assert world.crm_members(event) == {"ada@x.com": "Attended"}


def test_a_member_at_another_status_of_the_same_step_is_left_there_and_the_conflict_logged(world: World) -> None:
    event = _event(world)
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    world.crm.add_member(event, world.crm_person("ada@x.com"), "No Show")  # put there by hand
    cfg = world.config(RAISE.format(name="attended", source="Attendees", status="Attended"))

    report = world.sync(cfg, "attended")

    assert world.crm_members(event) == {"ada@x.com": "No Show"}
    assert report.counts.get("status_changed", 0) == 0
    collisions = [(d.detail, d.container) for d in report.decisions if d.kind is Kind.STATUS_COLLISION]
    assert collisions == [("kept 'No Show' over 'Attended': a member status never moves backwards", "crm:Event")]
