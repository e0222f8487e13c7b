"""Where a rule's read of its source starts and what it is told (``sync/source.py``), as a user sees it: who
joins the target, whether a run read in full, what an idle run reads, the size a connector is told, and
what an error names. Stores written by earlier versions (no remembered container, no count kept) and a
remembered container the store cannot parse are read as before, never fail a run."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector, Watermark
from campaign_bridge.connectors.memory import MemoryCRM
from campaign_bridge.connectors.memory.data import MemoryContainer
from campaign_bridge.errors import FatalError, TransientError
from campaign_bridge.mapping.model import Container, ContainerKind, MemberRecord
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import RunReport
from tests.sync.test_source_between_full_reads import CLICKED, MIRROR, WholeReads, clicker, run
from tests.sync.world import World


def _run_with(world: World, cfg: ClientConfig, crm: Connector, **kw: Any) -> RunReport:
    """A sync of the rule "web" with ``crm`` as the source connection's connector."""
    connectors: dict[str, Connector] = dict(world.engine(cfg).connectors)
    connectors["crm"] = crm
    report = Engine(cfg, world.store, connectors, clock=world.clock).sync("web", **kw)
    world.clock.tick(60)
    return report


def _sizes(world: World, cfg: ClientConfig, **kw: Any) -> tuple[RunReport, list[int | None]]:
    """A sync, and the sizes its source's reads were told (``Container.size``: the hint a system that does
    not say a container's size chooses its way of reading by)."""
    engine = world.engine(cfg)
    crm = engine.connectors["crm"]
    read = crm.read_members
    sizes: list[int | None] = []

    def spy(container: Container, since: Watermark | None = None, until: datetime | None = None) -> Any:
        sizes.append(container.size)
        return read(container, since, until)

    crm.read_members = spy  # type: ignore[method-assign]
    report = engine.sync("web", **kw)
    world.clock.tick(60)
    return report, sizes


def _rewrite_remembered(world: World, text: str | None) -> None:
    """Put ``text`` where the store keeps the container the rule's last full read found, as a store written
    by an earlier version (or damaged) holds it; the watermark and the full-read schedule stay."""
    mark, full_read_at = world.store.watermark("web")
    assert mark is not None
    assert full_read_at is not None
    world.store.set_watermark("web", mark, full_read_at, world.clock(), source_container=text)


# -- where an incremental read starts ------------------------------------------------------------------------


class ClockMarked(MemoryCRM):
    """A source whose reads cover everything up to the run's start (as Marketo's activity feed does,
    ``watermark_follows_clock``): the watermark follows the run's start, less the look-back."""

    watermark_follows_clock = True


def test_a_late_change_stamped_behind_a_clock_watermark_is_still_read(world: World) -> None:
    # A change the system makes visible late, stamped a few minutes before the last run (an activity
    # recorded after the fact), is within the look-back of the next read.
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Sent")
    world.clock.tick(3600)  # a@'s stamp is an hour old: the watermark follows the clock, not a@
    cfg = world.config(MIRROR)
    first_run_at = world.clock()
    assert _run_with(world, cfg, ClockMarked("crm", cfg.connections["crm"])).status == "ok"
    late = world.crm_person("late@x.com")
    world.crm.add_member(camp, late, "Sent")
    world.crm.containers[camp].members[late].modified_at = first_run_at - timedelta(minutes=7)

    second = _run_with(world, cfg, ClockMarked("crm", cfg.connections["crm"]))

    assert not second.full_read
    assert world.ma_emails(lst) == {"a@x.com", "late@x.com"}


# -- what counts as an edit of the rule's source ---------------------------------------------------------------


def test_a_segment_with_a_date_in_it_syncs_and_is_remembered(world: World) -> None:
    camp = world.campaign("Webinar")
    clicker(world, "a@x.com", world.clock() - timedelta(days=3))
    dated = CLICKED.replace("{field: last_email_click_at, within: 30d}", "{field: last_email_click_at, gt: 2026-01-01}")
    cfg = world.config(dated.replace("name: clicked", "name: web"))
    first = world.sync(cfg, "web")
    assert first.status == "ok", first.message
    assert set(world.crm_members(camp)) == {"a@x.com"}
    assert world.sync(cfg, "web").status == "ok"


def test_a_segment_written_with_its_keys_in_another_order_is_not_an_edit(world: World) -> None:
    camp = world.campaign("Webinar")
    clicker(world, "a@x.com", world.clock() - timedelta(days=3))
    reads: list[bool] = []
    run(world, reads)
    clicker(world, "b@x.com", world.clock() - timedelta(minutes=1))
    reordered = CLICKED.replace(
        "{field: last_email_click_at, within: 30d}", "{within: 30d, field: last_email_click_at}"
    )
    second = run(world, reads, config=reordered)
    assert reads == [True, False]  # the second run read the changes only
    assert not second.full_read
    assert set(world.crm_members(camp)) == {"a@x.com", "b@x.com"}


STATUSES = [("Invited", False), ("Registered", False), ("Attended", True)]
MAPPED = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, program: Webinar program, status_map: {Registered: Registered, Attended: Attended}}
    mode: mirror
"""


def test_a_status_map_written_in_another_order_is_not_an_edit(world: World) -> None:
    camp = world.campaign("Webinar", STATUSES)
    program = world.ma.add_container("Webinar program", ContainerKind.PROGRAM, STATUSES)
    for email, status in (("ada@x.com", "Registered"), ("grace@x.com", "Attended")):
        world.crm.add_member(camp, world.crm_person(email), status)
        world.ma_person(email)
    assert world.sync(world.config(MAPPED), "web").full_read
    world.crm.add_member(camp, world.crm_person("ed@x.com"), "Attended")
    world.ma_person("ed@x.com")
    reordered = MAPPED.replace(
        "{Registered: Registered, Attended: Attended}", "{Attended: Attended, Registered: Registered}"
    )

    second = world.sync(world.config(reordered), "web")

    assert not second.full_read
    assert {world.ma.people[p].email: s for p, s in world.ma.members(program).items()} == {
        "ada@x.com": "Registered",
        "grace@x.com": "Attended",
        "ed@x.com": "Attended",
    }


# -- what a full read is told --------------------------------------------------------------------------------


def test_a_rule_edited_to_another_campaign_is_not_told_the_old_campaigns_count(world: World) -> None:
    webinar, expo = world.campaign("Webinar"), world.campaign("Expo")
    world.ma_list("Nurture")
    for i in range(3):
        world.crm.add_member(webinar, world.crm_person(f"w{i}@x.com"), "Sent")
    world.crm.add_member(expo, world.crm_person("e@x.com"), "Sent")
    _sizes(world, world.config(MIRROR))
    report, sizes = _sizes(world, world.config(MIRROR.replace("campaign: Webinar", "campaign: Expo")))
    assert report.full_read
    assert sizes == [None]  # Expo was never read: its size is unknown, not Webinar's 3


def test_a_campaign_found_empty_is_read_next_time_as_empty(world: World) -> None:
    # told 0, a system that does not say sizes reads a page instead of probing first
    world.campaign("Webinar")
    world.ma_list("Nurture")
    cfg = world.config(MIRROR)
    assert _sizes(world, cfg, full=True)[1] == [None]
    assert _sizes(world, cfg, full=True)[1] == [0]


# -- stores written by earlier versions, or damaged --------------------------------------------------------------


def test_a_store_without_the_remembered_count_reads_in_full_as_before(world: World) -> None:
    # The count of the last full read has been kept since a later version: a store from before has none.
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    kept = json.loads(world.store.source_container("web") or "")
    del kept["read"]
    _rewrite_remembered(world, json.dumps(kept))
    world.crm.add_member(camp, world.crm_person("b@x.com"), "Sent")

    report, sizes = _sizes(world, cfg, full=True)

    assert report.status == "ok", report.message
    assert sizes == [None]
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}


def test_a_store_that_never_remembered_the_source_keeps_reading_incrementally(world: World) -> None:
    # A watermark written before the source container was kept (no container at all): the next run is
    # the incremental read it would have been, not a needless full read.
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    _rewrite_remembered(world, None)
    world.crm.add_member(camp, world.crm_person("b@x.com"), "Sent")

    second = world.sync(cfg, "web")

    assert second.status == "ok"
    assert not second.full_read
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}
    # and an incremental read it is: who leaves the campaign is seen by its changes
    world.crm.remove_member(camp, next(iter(world.crm.containers[camp].members)))
    assert not world.sync(cfg, "web").full_read
    assert world.ma_emails(lst) == {"b@x.com"}


@pytest.mark.parametrize("text", ["not json", "[]", '"Webinar"'])
def test_a_remembered_source_the_store_cannot_parse_is_read_in_full(world: World, text: str) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a = world.crm_person("a@x.com")
    world.crm.add_member(camp, a, "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    _rewrite_remembered(world, text)
    world.crm.remove_member(camp, a)
    world.crm.add_member(camp, world.crm_person("b@x.com"), "Sent")

    report = world.sync(cfg, "web")

    assert report.status == "ok", report.message
    assert report.full_read
    assert world.ma_emails(lst) == {"b@x.com"}


# -- sources with a version but no change feed, and those with neither -------------------------------------------


class Versioned(MemoryCRM):
    """A source with a membership version but no change feed (as a HubSpot list): a run whose source's version
    has not moved since the last full read reads nothing."""

    reads_incrementally = False

    def _container(self, c: MemoryContainer) -> Container:
        count = sum(1 for m in c.members.values() if not m.removed)
        return dataclasses.replace(super()._container(c), membership_version=f"{count}")

    def read_members(
        self, container: Container, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        return super().read_members(container)  # no feed: every read is whole (HubSpot ignores ``since``)


def test_an_idle_run_of_a_versioned_source_without_a_feed_reads_nothing(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for email in ("a@x.com", "b@x.com"):
        world.crm.add_member(camp, world.crm_person(email), "Sent")
    cfg = world.config(MIRROR)
    assert _run_with(world, cfg, Versioned("crm", cfg.connections["crm"])).read == 2
    before = world.crm.calls

    idle = _run_with(world, cfg, Versioned("crm", cfg.connections["crm"]))

    assert idle.status == "ok"
    assert idle.read == 0
    assert idle.message == "the source's members have not changed since the last full read: nothing read"
    assert world.crm.calls - before == 1  # the lookup that gives the version; no read of the members
    world.crm.add_member(camp, world.crm_person("c@x.com"), "Sent")
    moved = _run_with(world, cfg, Versioned("crm", cfg.connections["crm"]))
    assert moved.read == 3
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com", "c@x.com"}


def test_a_versioned_source_without_a_feed_that_moved_is_read_whole_and_leavers_go(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a = world.crm_person("a@x.com")
    world.crm.add_member(camp, a, "Sent")
    world.crm.add_member(camp, world.crm_person("b@x.com"), "Sent")
    cfg = world.config(MIRROR)
    _run_with(world, cfg, Versioned("crm", cfg.connections["crm"]))
    world.crm.remove_member(camp, a)

    moved = _run_with(world, cfg, Versioned("crm", cfg.connections["crm"]))

    assert moved.full_read
    assert moved.counts.get("removed") == 1
    assert world.ma_emails(lst) == {"b@x.com"}


@pytest.mark.parametrize("full", [False, True])
def test_a_campaign_read_that_finds_nothing_keeps_its_watermark(world: World, full: bool) -> None:
    # The membership the watermark stands on is gone for good (purged), so the next read finds nothing; the
    # watermark stays, and a membership the system shows late, stamped before that run, is still read.
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a = world.crm_person("a@x.com")
    world.crm.add_member(camp, a, "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    del world.crm.containers[camp].members[a]
    world.clock.tick(3 * 3600)
    quiet_at = world.clock()
    assert world.sync(cfg, "web", full=full).read == 0
    late = world.crm_person("late@x.com")
    world.crm.add_member(camp, late, "Sent")
    world.crm.containers[camp].members[late].modified_at = quiet_at - timedelta(minutes=30)

    assert not world.sync(cfg, "web").full_read
    assert "late@x.com" in world.ma_emails(lst)


class GoneList(WholeReads):
    """A source with neither a feed nor a version whose reads say which list is gone by its name, as
    Dynamics does for a dynamic list deleted since it was found."""

    def read_members(
        self, container: Container, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        if container.id not in self.data.containers:
            raise FatalError(f"{self.name}: list {container.name!r} no longer exists")
        return super().read_members(container, since, until)


def test_a_source_deleted_between_full_reads_is_named_in_the_error(world: World) -> None:
    camp = world.campaign("Webinar")
    world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Sent")
    cfg = world.config(MIRROR)
    assert _run_with(world, cfg, GoneList("crm", cfg.connections["crm"])).status == "ok"
    del world.crm.containers[camp]
    with pytest.raises(FatalError, match="list 'Webinar' no longer exists"):
        _run_with(world, cfg, GoneList("crm", cfg.connections["crm"]))


def test_a_run_exactly_full_read_every_after_the_last_full_read_reads_in_full(world: World) -> None:
    camp = world.campaign("Webinar")
    world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Sent")
    cfg = world.config(MIRROR, "defaults: {full_read_every: 6h}")
    first_at = world.clock()
    assert world.sync(cfg, "web").full_read
    world.clock.tick(6 * 3600 - 1 - (world.clock() - first_at).total_seconds())
    assert not world.sync(cfg, "web").full_read  # a second short of 6 hours
    world.clock.tick((first_at + timedelta(hours=6) - world.clock()).total_seconds())
    assert world.sync(cfg, "web").full_read  # 6 hours to the second: due


@pytest.mark.parametrize("full", [False, True])
def test_a_segment_read_that_finds_nothing_keeps_its_watermark(world: World, full: bool) -> None:
    # A run that reads nothing (its changes, or in full) keeps the watermark where the last change was, so a
    # click the system makes visible late, stamped before that run, is still read by the next one.
    camp = world.campaign("Webinar")
    a = clicker(world, "a@x.com", world.clock() - timedelta(days=2))
    reads: list[bool] = []
    run(world, reads)
    del world.ma.people[a]  # the feed no longer brings back the click the watermark stands on
    world.clock.tick(3 * 3600)
    quiet_at = world.clock()
    assert run(world, reads, full=full).read == 0
    clicker(world, "late@x.com", quiet_at - timedelta(minutes=30))
    run(world, reads)
    assert reads == [True, full, False]
    assert "late@x.com" in world.crm_members(camp)


def test_a_whole_read_from_the_remembered_campaign_is_told_the_last_count(world: World) -> None:
    # Between full reads a source with neither feed nor version is read whole from the campaign its last
    # full read found; a system that does not say sizes chooses pages or an export by that count.
    camp = world.campaign("Webinar")
    world.ma_list("Nurture")
    for i in range(3):
        world.crm.add_member(camp, world.crm_person(f"p{i}@x.com"), "Sent")
    cfg = world.config(MIRROR)
    sizes: list[int | None] = []
    for _ in range(2):
        crm = WholeReads("crm", cfg.connections["crm"])
        read = crm.read_members

        def spy(
            container: Container, since: Watermark | None = None, until: datetime | None = None, read: Any = read
        ) -> Any:
            sizes.append(container.size)
            return read(container, since, until)

        crm.read_members = spy  # type: ignore[method-assign]
        assert _run_with(world, cfg, crm).status == "ok"
    assert sizes == [None, 3]


def test_a_versioned_source_is_read_again_while_a_write_is_left_to_retry(world: World) -> None:
    # The source's version has not moved, but the adds failed: the run reads the source to send them again.
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for email in ("a@x.com", "b@x.com"):
        world.crm.add_member(camp, world.crm_person(email), "Sent")
    cfg = world.config(MIRROR)
    connectors: dict[str, Connector] = dict(world.engine(cfg).connectors)
    connectors["crm"] = Versioned("crm", cfg.connections["crm"])
    ma: Any = connectors["ma"]

    def unavailable(container: Container, changes: Any) -> Any:
        raise TransientError("the MA answered 503 Service Unavailable")

    ma.apply_changes = unavailable
    first = Engine(cfg, world.store, connectors, clock=world.clock).sync("web")
    world.clock.tick(60)
    assert first.counts.get("failed") == 2
    assert world.ma_emails(lst) == set()

    again = _run_with(world, cfg, Versioned("crm", cfg.connections["crm"]))

    assert again.read == 2
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}


# -- statuses a rule selects that its source does not have -------------------------------------------------------


@pytest.mark.parametrize(
    ("selects", "remove"),
    [("member_status: [Sent]", "member_status"), ("status_map: {Sent: Attended}", "to.status_map")],
)
def test_a_source_without_member_statuses_says_which_setting_to_remove(world: World, selects: str, remove: str) -> None:
    world.crm.add_container("Webinar", ContainerKind.CAMPAIGN, [])
    world.ma.add_container("Webinar program", ContainerKind.PROGRAM, STATUSES)
    rule = MAPPED.replace("status_map: {Registered: Registered, Attended: Attended}", "status: Attended")
    if selects.startswith("member_status"):
        rule = rule.replace("campaign: Webinar}", f"campaign: Webinar, {selects}}}")
    else:
        rule = rule.replace("status: Attended", selects)
    with pytest.raises(FatalError, match=f"'Webinar' has no member statuses to filter on; remove {remove}$"):
        world.sync(world.config(rule), "web")


def test_an_unknown_status_with_no_close_match_lists_the_sources_statuses(world: World) -> None:
    world.campaign("Webinar")
    world.ma_list("Nurture")
    cfg = world.config(MIRROR.replace("campaign: Webinar}", "campaign: Webinar, member_status: [Attended]}"))
    with pytest.raises(FatalError, match="'Webinar' has no member status 'Attended'; it has Sent, Responded$"):
        world.sync(cfg, "web")
