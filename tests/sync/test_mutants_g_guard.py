"""The share a held plan reports when every member the rule owns is leaving and their removals failed once.

The rule then has no ``present`` member left of its own: all of them are ``failed`` removals, still in the
target and still the rule's. The held plan must count exactly those as the members it owns ("10 of 10"),
as the plan that first sent the removals did. Found by mutation testing (the guard's ``owned`` count with
a default of one when the rule has no present owned member: "removes 10 of 11 members").
"""

from __future__ import annotations

from tests.sync.test_mutants_f_guard import MIRROR, _unavailable
from tests.sync.world import World


def test_a_held_retry_of_every_owned_members_removal_counts_only_the_members_the_rule_owns(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = [world.crm_person(f"p{i}@x.com") for i in range(10)]
    for pid in ids:
        world.crm.add_member(camp, pid, "Responded")
    loose = world.config(MIRROR + "    safety: {max_removals: 1000, max_removal_fraction: 1.0}\n")
    world.sync(loose, "web")
    for pid in ids:  # everyone leaves; with any share allowed the removals go out, and all fail for now
        world.crm.remove_member(camp, pid)
    engine = world.engine(loose)
    engine.connectors["ma"].apply_changes = _unavailable  # type: ignore[method-assign]
    failed = engine.sync("web")
    assert (failed.status, failed.counts.get("failed")) == ("partial", 10)
    world.clock.tick(60)

    # The limit is tightened before the retry: the retry is held, and says how many members it would remove
    # of how many the rule owns (the ten still in the list, none of them present in the ledger any more).
    strict = world.config(MIRROR + "    safety: {max_removals: 1000, max_removal_fraction: 0.5}\n")
    report = world.sync(strict, "web")

    assert report.status == "held"
    assert "the plan removes 10 of 10 members, more than max_removal_fraction=0.5" in report.message
    assert len(world.ma_emails(lst)) == 10


def test_the_logged_hold_names_the_list_whose_removals_it_holds(world: World) -> None:
    """``campaign-bridge conflicts`` shows where each logged decision happened (its ``container``)."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = [world.crm_person(f"p{i}@x.com") for i in range(10)]
    for pid in ids:
        world.crm.add_member(camp, pid, "Responded")
    cfg = world.config(MIRROR + "    safety: {max_removals: 5}\n")
    world.sync(cfg, "web")
    for pid in ids:
        world.crm.remove_member(camp, pid)

    assert world.sync(cfg, "web").status == "held"

    (held,) = world.store.decisions(rule="web", kind="held_plan")
    assert held["container"] == "Nurture"
    assert held["detail"].startswith(
        "removals held, not applied: the plan removes 10 members, more than max_removals=5"
    )
    assert len(world.ma_emails(lst)) == 10
