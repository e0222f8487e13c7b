"""What opening a rule's source (``Sources.open``) refuses and where its reads stop, as a user sees it: the
words of a refusal, and an incremental read that stops at the run's start, so that a change made while the
run reads does not move the watermark past a membership the system shows late (stamped before the run)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.memory import MemoryCRM, MemoryMA
from campaign_bridge.connectors.memory.data import MemoryContainer
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import Container
from campaign_bridge.sync.source import Sources
from tests.sync.test_mutants_e_source import _rewrite_remembered, _run_with
from tests.sync.test_mutants_h_source import _forget_the_remembered_source
from tests.sync.test_source_between_full_reads import CLICKED, MIRROR
from tests.sync.world import World

UNCHANGED = "the source's members have not changed since the last full read: nothing read"


# -- refusals -------------------------------------------------------------------------------------------------


class NoSegments(MemoryMA):
    """A connector that publishes segment fields (so the configuration loads) but has no ``read_segment``, as
    a plugin written against an older contract."""

    read_segment = None  # type: ignore[assignment]


def test_a_segment_on_a_source_that_cannot_read_segments_is_refused_naming_the_rule_and_system(
    world: World,
) -> None:
    cfg = world.config(CLICKED)
    connectors: dict[str, Connector] = dict(world.engine(cfg).connectors)
    connectors["ma"] = NoSegments("ma", cfg.connections["ma"])
    with pytest.raises(FatalError) as raised:
        Sources(cfg, world.store, connectors).open(cfg.rule("clicked"), world.clock())
    assert str(raised.value) == "rule 'clicked': memory-ma cannot read segments"


def test_a_remembered_campaign_without_the_rules_statuses_is_refused_naming_each(world: World) -> None:
    # The store (damaged, or edited by hand) remembers the campaign without the statuses the rule selects:
    # between full reads the run is refused with the same words as a full read, before anything is read.
    camp = world.campaign("Webinar", [("Sent", False), ("Responded", True), ("Attended", True), ("Noshow", False)])
    lst = world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Attended")
    cfg = world.config(MIRROR.replace("campaign: Webinar}", "campaign: Webinar, member_status: [Attended, Noshow]}"))
    assert world.sync(cfg, "web").status == "ok"
    kept = json.loads(world.store.source_container("web") or "")
    kept["statuses"] = [s for s in kept["statuses"] if s[0] in ("Sent", "Responded")]
    _rewrite_remembered(world, json.dumps(kept))
    world.crm.add_member(camp, world.crm_person("b@x.com"), "Attended")

    with pytest.raises(FatalError) as raised:
        world.sync(cfg, "web")

    assert str(raised.value) == (
        "rule 'web' from: 'Webinar' has no member status 'Attended'; it has Sent, Responded; "
        "'Webinar' has no member status 'Noshow'; it has Sent, Responded"
    )
    assert world.ma_emails(lst) == {"a@x.com"}


# -- an incremental read stops at the run's start -------------------------------------------------------------


@pytest.mark.parametrize("remembered", [True, False], ids=["remembered-campaign", "campaign-found-again"])
def test_a_change_made_while_the_run_reads_does_not_hide_a_late_membership(world: World, remembered: bool) -> None:
    # A system stamping memberships at commit (Salesforce's SystemModstamp) can show one late, stamped before
    # the run. The watermark stays at the newest stamp read; had the run also read a change made while it
    # read (stamped after its start), the watermark would move up to the run's start and the next read,
    # from there less the look-back, would never see the late one.
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Sent")
    cfg = world.config(MIRROR)
    assert world.sync(cfg, "web").full_read
    if not remembered:
        _forget_the_remembered_source(world)  # a store from before the campaign was kept: it is found again
    world.clock.tick(3 * 3600)
    run_at = world.clock()
    during = world.crm_person("during@x.com")
    world.crm.add_member(camp, during, "Sent")
    world.crm.containers[camp].members[during].modified_at = run_at + timedelta(seconds=30)  # joined mid-read
    second = world.sync(cfg, "web")
    assert (second.status, second.full_read) == ("ok", False)
    late = world.crm_person("late@x.com")
    world.crm.add_member(camp, late, "Sent")
    world.crm.containers[camp].members[late].modified_at = run_at - timedelta(minutes=30)

    third = world.sync(cfg, "web")

    assert not third.full_read
    assert world.ma_emails(lst) == {"a@x.com", "during@x.com", "late@x.com"}


class VersionedFeed(MemoryCRM):
    """A source with both a change feed and a membership version (its member count)."""

    def _container(self, c: MemoryContainer) -> Container:
        count = sum(1 for m in c.members.values() if not m.removed)
        return dataclasses.replace(super()._container(c), membership_version=f"{count}")


def _versioned_run(world: World, cfg: ClientConfig) -> str | None:
    report = _run_with(world, cfg, VersionedFeed("crm", cfg.connections["crm"]))
    assert report.status == "ok", report.message
    return report.message


def test_an_idle_run_of_an_unchanged_source_keeps_the_watermark_for_a_late_membership(world: World) -> None:
    # A store written after sources' versions were kept but before their containers were: each run finds the
    # campaign, and one whose version has not moved reads nothing. That idle run leaves the watermark where
    # the last read put it, so a membership shown late, stamped before the idle run, is read once the
    # version moves.
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Sent")
    cfg = world.config(MIRROR)
    _versioned_run(world, cfg)
    mark, full_read_at = world.store.watermark("web")
    assert mark is not None
    version = world.store.source_version("web")
    world.store.set_watermark("web", mark, full_read_at, world.clock(), source_version=version)
    world.clock.tick(3 * 3600)
    idle_at = world.clock()
    assert _versioned_run(world, cfg) == UNCHANGED
    late = world.crm_person("late@x.com")
    world.crm.add_member(camp, late, "Sent")
    world.crm.containers[camp].members[late].modified_at = idle_at - timedelta(minutes=30)

    assert _versioned_run(world, cfg) != UNCHANGED
    assert world.ma_emails(lst) == {"a@x.com", "late@x.com"}
