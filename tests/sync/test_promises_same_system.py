"""A rule whose source and target are the same connection (one CRM campaign feeding another): the source
is read in the run's own thread, a chunk at a time, and the target gets exactly its members."""

from __future__ import annotations

import pytest

from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import ContainerKind
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


def test_a_dynamic_list_is_refused_as_a_target_and_read_as_a_source(world: World) -> None:
    camp = world.campaign("Webinar")
    dyn = world.ma_list("Engaged", ContainerKind.DYNAMIC_LIST)
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Responded")
    into = world.config(
        """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Engaged}
"""
    )
    with pytest.raises(FatalError) as refused:
        world.sync(into, "web")
    assert str(refused.value) == (
        "rule 'web': cannot write to 'Engaged': a dynamic list is computed by the system from its own filter, so "
        "nobody can add or remove members; use it as a rule's source, or target a static list"
    )
    assert world.ma.members(dyn) == {}

    world.ma.add_member(dyn, world.ma_person("b@x.com"))
    world.crm_person("b@x.com")
    back = world.config(
        """
  - name: back
    from: {connection: ma, list: Engaged}
    to: {connection: crm, campaign: Webinar, status: Sent}
"""
    )
    world.sync(back, "back")
    assert world.crm_members(camp) == {"a@x.com": "Responded", "b@x.com": "Sent"}
