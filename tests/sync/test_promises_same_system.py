"""A rule whose source and target are the same connection (one CRM campaign feeding another): the source
is read in the run's own thread, a chunk at a time, and the target gets exactly its members."""

from __future__ import annotations

from tests.sync.world import World

RULE = """
  - name: follow-up
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: crm, campaign: Follow-up, status: Sent}
    match: {create_missing: skip}
    mode: mirror
"""


def test_a_campaign_feeds_another_campaign_of_the_same_crm_chunk_by_chunk(world: World) -> None:
    webinar, follow = world.campaign("Webinar"), world.campaign("Follow-up")
    people = [world.crm_person(f"p{i}@x.com") for i in range(450)]
    for i, pid in enumerate(people):
        world.crm.add_member(webinar, pid, "Responded" if i % 3 else "Sent")
    cfg = world.config(RULE)

    first = world.sync(cfg, "follow-up")

    wanted = {f"p{i}@x.com" for i in range(450) if i % 3}
    assert first.status == "ok"
    assert first.read == 450
    assert set(world.crm_members(follow)) == wanted
    assert set(world.crm_members(follow).values()) == {"Sent"}

    for pid in people[:4]:
        world.crm.remove_member(webinar, pid)
    second = world.sync(cfg, "follow-up", full=True)
    assert set(world.crm_members(follow)) == wanted - {"p1@x.com", "p2@x.com"}
    assert second.counts.get("removed") == 2
