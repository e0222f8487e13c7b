"""Target identity as a user meets it: a person the run created is remembered (the next add finds the
same record, even after its email changed in the target), and a target that cannot create people says
so, naming the system, rather than blaming the rule's ``create_missing``."""

from __future__ import annotations

from typing import Any

from campaign_bridge.connectors.memory import MemoryMA
from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import Kind
from tests.sync.world import World


class CannotCreate(MemoryMA):
    """A target with no way to create people (a connector without ``create_people``)."""

    create_people = None  # type: ignore[assignment]


MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
    match: {create_missing: contact}
"""


def test_a_person_the_run_created_is_found_again_after_their_email_changed_in_the_target(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    pid = world.crm_person("ann@x.com")
    world.crm.add_member(camp, pid, "Responded")
    cfg = world.config(MIRROR)

    first = world.sync(cfg, "web")
    assert [d.email for d in first.decisions if d.kind is Kind.CREATED_PERSON] == ["ann@x.com"]
    # the log names the person it created the record for (``conflicts`` and ``explain`` show the key)
    key = world.store.persons_by_emails(["ann@x.com"])["ann@x.com"]
    assert [d["person_key"] for d in world.store.decisions(rule="web", kind="created_person")] == [key]
    (created,) = world.ma.members(lst)
    # someone edits the contact's email in the MA; she leaves the campaign, then comes back
    world.ma.people[created].email = "ann.new@x.com"
    world.crm.remove_member(camp, pid)
    world.sync(cfg, "web")
    assert world.ma.members(lst) == {}
    world.crm.add_member(camp, pid, "Responded")

    again = world.sync(cfg, "web")

    assert again.status == "ok"
    assert list(world.ma.members(lst)) == [created]  # the record created for her, not a duplicate
    assert [d for d in again.decisions if d.kind is Kind.CREATED_PERSON] == []
    assert len(world.ma.people) == 1


def test_a_target_that_cannot_create_people_says_so_for_each_person_it_lacks(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for email in ("ann@x.com", "bob@x.com"):
        world.crm.add_member(camp, world.crm_person(email), "Responded")
    world.ma_person("bob@x.com")
    cfg = world.config(MIRROR)
    connectors: dict[str, Any] = {name: build_connector(name, s) for name, s in cfg.connections.items()}
    connectors["ma"] = CannotCreate("ma", cfg.connections["ma"])

    report = Engine(cfg, world.store, connectors, clock=world.clock).sync("web")

    assert world.ma_emails(lst) == {"bob@x.com"}
    unmatched = [(d.email, d.detail) for d in report.decisions if d.kind is Kind.UNMATCHED_PERSON]
    assert unmatched == [("ann@x.com", "no record with this email, and memory-ma cannot create people")]
    assert report.counts.get("unmatched") == 1
    key = world.store.persons_by_emails(["ann@x.com"])["ann@x.com"]
    assert [d["person_key"] for d in world.store.decisions(rule="web", conflicts_only=True)] == [key]


def test_a_person_the_target_refuses_to_create_is_a_conflict_naming_them_and_the_refusal(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("no-at-sign"), "Responded")
    world.crm.add_member(camp, world.crm_person("ann@x.com"), "Responded")

    report = world.sync(world.config(MIRROR), "web")

    assert world.ma_emails(lst) == {"ann@x.com"}
    refused = [(d["kind"], d["email"], d["detail"]) for d in world.store.decisions(rule="web", conflicts_only=True)]
    why = "the target refused to create this person: INVALID_EMAIL_ADDRESS: invalid email: 'no-at-sign'"
    assert refused == [("rejected_record", "no-at-sign", why)]
    key = world.store.persons_by_emails(["no-at-sign"])["no-at-sign"]
    assert [d.person_key for d in report.decisions if d.kind is Kind.REJECTED_RECORD] == [key]
