"""Two rules want one member: when the rule that added it lets go, the other rule takes it over, so the
member leaves the list once no rule wants it (and not before)."""

from __future__ import annotations

from tests.sync.world import World

RULES = """
  - name: webinar
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
  - name: event
    from: {connection: crm, campaign: Event}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_a_member_two_rules_want_is_handed_over_then_removed_when_neither_does(world: World) -> None:
    webinar, event, lst = world.campaign("Webinar"), world.campaign("Event"), world.ma_list("Nurture")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(webinar, ada, "Responded")
    world.crm.add_member(event, ada, "Responded")
    cfg = world.config(RULES)
    world.sync(cfg, "webinar")  # adds ada: webinar's member
    world.sync(cfg, "event")  # finds her there: not event's
    world.crm.remove_member(webinar, ada)

    left = world.sync(cfg, "webinar", full=True)
    assert world.ma_emails(lst) == {"ada@x.com"}  # event still wants her
    assert [d.kind.value for d in left.decisions if d.email == "ada@x.com"] == ["kept_for_other_rule"]

    world.crm.remove_member(event, ada)
    gone = world.sync(cfg, "event", full=True)
    assert world.ma_emails(lst) == set()  # event now owns her, so it removes her
    assert gone.counts.get("removed") == 1
    removed = [(d.detail, d.container) for d in gone.decisions if d.kind.value == "removed"]
    assert removed == [("removed: no longer in the source", "ma:Nurture")]
