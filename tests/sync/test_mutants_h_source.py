"""Where a rule's next read of its source starts (``sync/source.py``), for a store written before the source
container was kept (its watermark has no remembered container): the run finds the campaign again and reads
its changes, and a read that finds nothing keeps the watermark where it was, so a membership the system shows
late, stamped before that run, is still read by the next one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from campaign_bridge.errors import FatalError
from tests.sync.test_mutants_e_source import Versioned, _run_with
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def _forget_the_remembered_source(world: World) -> None:
    """The rule's watermark as a store written before the source container was kept holds it."""
    mark, full_read_at = world.store.watermark("web")
    assert mark is not None
    world.store.set_watermark("web", mark, full_read_at, world.clock(), source_container=None)


def test_an_empty_read_of_a_campaign_the_store_never_remembered_keeps_the_watermark(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a = world.crm_person("a@x.com")
    world.crm.add_member(camp, a, "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    _forget_the_remembered_source(world)
    del world.crm.containers[camp].members[a]  # purged: the next read finds nothing at all
    world.clock.tick(3 * 3600)
    quiet_at = world.clock()
    quiet = world.sync(cfg, "web")
    assert (quiet.full_read, quiet.read, quiet.status) == (False, 0, "ok")
    late = world.crm_person("late@x.com")
    world.crm.add_member(camp, late, "Sent")
    world.crm.containers[camp].members[late].modified_at = quiet_at - timedelta(minutes=30)

    assert not world.sync(cfg, "web").full_read
    assert "late@x.com" in world.ma_emails(lst)


def test_an_idle_run_of_a_versioned_source_is_not_reported_as_a_full_read(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for email in ("a@x.com", "b@x.com"):
        world.crm.add_member(camp, world.crm_person(email), "Sent")
    cfg = world.config(MIRROR)
    assert _run_with(world, cfg, Versioned("crm", cfg.connections["crm"])).full_read

    idle = _run_with(world, cfg, Versioned("crm", cfg.connections["crm"]))

    assert (idle.status, idle.read, idle.as_json()["full_read"]) == ("ok", 0, False)
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}


def test_two_unknown_statuses_are_both_named_in_one_message(world: World) -> None:
    world.campaign("Webinar")
    world.ma_list("Nurture")
    cfg = world.config(MIRROR.replace("campaign: Webinar}", "campaign: Webinar, member_status: [Attended, Noshow]}"))
    with pytest.raises(FatalError) as raised:
        world.sync(cfg, "web")
    assert str(raised.value) == (
        "rule 'web' from: 'Webinar' has no member status 'Attended'; it has Sent, Responded; "
        "'Webinar' has no member status 'Noshow'; it has Sent, Responded"
    )
