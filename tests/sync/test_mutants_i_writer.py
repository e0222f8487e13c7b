"""The decision log ties each decision to the run that made it: ``explain`` shows the run's id next to
each decision, so a person can look the run up in ``runs``."""

from __future__ import annotations

from campaign_bridge.sync.explain import explain
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_explain_names_the_run_that_made_each_decision(world: World) -> None:
    camp, _ = world.campaign("Webinar"), world.ma_list("Nurture")
    ann = world.crm_person("ann@x.com")
    world.crm.add_member(camp, ann, "Responded")
    world.ma_person("ann@x.com")
    cfg = world.config(MIRROR)
    added = world.sync(cfg, "web")
    world.crm.remove_member(camp, ann)
    removed = world.sync(cfg, "web")

    (said,) = explain(world.store, cfg, "ann@x.com")

    assert [(d["kind"], d["run_id"]) for d in said["decisions"]] == [
        ("removed", removed.run_id),
        ("added", added.run_id),
    ]
    assert [r["id"] for r in world.store.runs(rule="web")] == [removed.run_id, added.run_id]
