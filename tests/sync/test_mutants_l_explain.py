"""``explain`` shows each rule its own latest decisions about a person, however many decisions other rules
logged about the same address since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.plan import Decision, Kind
from tests.sync.world import World

TWO_RULES = """
  - name: a
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
  - name: b
    from: {connection: crm, campaign: Summit, member_status: [Responded]}
    to: {connection: ma, list: Events}
    mode: mirror
"""


def test_a_rules_decision_stays_in_explain_after_another_rule_logged_hundreds_about_the_same_person(
    world: World,
) -> None:
    cfg = world.config(TWO_RULES)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    left = Decision(Kind.LEFT_IN_PLACE, "p1", "ann@x.com", "not desired any more, but this rule never added it")
    bob = Decision(Kind.LEFT_IN_PLACE, "p2", "bob@x.com", "not desired any more, but this rule never added it")
    world.store.log([left.row(1, "b", start), bob.row(1, "b", start)])
    # months of rule a's full reads, each logging ann's conflict again
    conflict = Decision(Kind.STATUS_COLLISION, "p1", "ann@x.com", "kept 'Attended' over 'Registered'")
    world.store.log([conflict.row(2 + n, "a", start + timedelta(hours=n + 1)) for n in range(500)])

    a, b = explain(world.store, cfg, "ann@x.com")

    assert b["verdict"] == "not in ma:Events: see the decisions below"
    assert [(d["kind"], d["run_id"]) for d in b["decisions"]] == [("left_in_place", 1)]
    assert a["verdict"] == "not in ma:Nurture: see the decisions below"
    assert [d["run_id"] for d in a["decisions"]] == list(range(501, 491, -1))  # its ten latest, newest first
