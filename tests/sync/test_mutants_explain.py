"""``explain`` shows the latest ten decisions of a rule about a person, newest first, however many the
log holds."""

from __future__ import annotations

from campaign_bridge.sync.explain import explain
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_explain_shows_the_ten_latest_decisions_newest_first(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    pid = world.crm_person("ada@x.com")
    world.ma_person("ada@x.com")
    cfg = world.config(MIRROR)
    for _ in range(6):  # she joins and leaves the webinar six times: twelve decisions
        world.crm.add_member(camp, pid, "Responded")
        world.sync(cfg, "web")
        world.crm.remove_member(camp, pid)
        world.sync(cfg, "web")

    (entry,) = explain(world.store, cfg, "ada@x.com")

    assert entry["verdict"] == "not in ma:Nurture: see the decisions below"
    assert [d["kind"] for d in entry["decisions"]] == ["removed", "added"] * 5
    assert world.ma.members(lst) == {}
