"""``explain`` for a person the state store first knew without an email address: the decisions made
since they got one are what ties the address to them, and ``explain`` follows them to the ledger."""

from __future__ import annotations

from campaign_bridge.sync.explain import explain
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_explain_finds_a_member_by_the_email_they_got_after_joining_the_source(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    pid = world.crm_person(None)
    world.crm.add_member(camp, pid, "Responded")
    world.ma_person("late@x.com")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    assert world.ma_emails(lst) == set()

    world.crm.people[pid].email = "late@x.com"  # the contact gets an address in the CRM
    world.crm.people[pid].modified_at = world.clock()
    assert world.store.requeue("web") == 1  # campaign-bridge retry
    world.sync(cfg, "web", full=True)
    assert world.ma_emails(lst) == {"late@x.com"}

    (entry,) = explain(world.store, cfg, "Late@X.com")
    assert entry["verdict"] == "in ma:Nurture; added by this rule"
    assert [d["kind"] for d in entry["decisions"]] == ["added"]


def test_explain_of_a_blank_address_shows_nobody_else_s_membership_or_decisions(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("ada@x.com"), "Responded")
    world.ma_person("ada@x.com")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    assert world.ma_emails(lst) == {"ada@x.com"}

    for blank in ("", "   "):
        (entry,) = explain(world.store, cfg, blank)
        assert entry["verdict"] == "not in ma:Nurture: not in this rule's source (crm:Webinar)"
        assert entry["decisions"] == []
