"""Between full reads: a source with a change feed is read since its watermark from the container its last
full read found (one API call less on each idle run), a rule edited to name another container finds that
one, and a segment read for its changes only lets members go as their window lapses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector, Watermark
from campaign_bridge.connectors.memory import MemoryCRM, MemoryMA
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import Container, MemberRecord
from campaign_bridge.mapping.segment import Condition, Op, Segment
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import RunReport
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_an_idle_incremental_run_does_not_look_the_source_campaign_up_again(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Sent")
    cfg = world.config(MIRROR)
    assert world.sync(cfg, "web").full_read
    before = world.crm.calls
    idle = world.sync(cfg, "web")
    assert not idle.full_read
    assert world.crm.calls - before == 1  # the read since the watermark; no list of the CRM's campaigns
    world.crm.add_member(camp, world.crm_person("b@x.com"), "Sent")
    assert not world.sync(cfg, "web").full_read
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}


def test_a_rule_edited_to_read_another_campaign_reads_that_one_at_once(world: World) -> None:
    webinar, expo, lst = world.campaign("Webinar"), world.campaign("Expo"), world.ma_list("Nurture")
    world.crm.add_member(webinar, world.crm_person("w@x.com"), "Sent")
    world.crm.add_member(expo, world.crm_person("e@x.com"), "Sent")
    world.sync(world.config(MIRROR), "web")
    assert world.ma_emails(lst) == {"w@x.com"}

    edited = world.config(MIRROR.replace("campaign: Webinar", "campaign: Expo"))
    report = world.sync(edited, "web")
    # Read in full: the watermark is the old campaign's, and e@ joined Expo before it.
    assert report.full_read
    assert world.ma_emails(lst) == {"e@x.com"}


def test_a_segment_rule_edited_reads_its_new_segment_in_full(world: World) -> None:
    camp = world.campaign("Webinar")
    now = world.clock()
    clicker(world, "recent@x.com", now - timedelta(days=3))
    clicker(world, "older@x.com", now - timedelta(days=45))
    reads: list[bool] = []
    run(world, reads)
    assert set(world.crm_members(camp)) == {"recent@x.com"}
    # Widened to 60 days: older@'s click is behind the watermark, so only a full read finds it.
    run(world, reads, config=CLICKED.replace("within: 30d", "within: 60d"))
    assert set(world.crm_members(camp)) == {"recent@x.com", "older@x.com"}
    assert reads == [True, True]


def test_a_renamed_source_is_still_read_between_full_reads_and_named_at_the_next(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    world.crm.containers[camp].name = "Webinar (old)"
    world.crm.add_member(camp, world.crm_person("b@x.com"), "Sent")
    assert world.sync(cfg, "web").status == "ok"
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}
    with pytest.raises(FatalError, match="no campaign named 'Webinar'; did you mean 'Webinar \\(old\\)'"):
        world.sync(cfg, "web", full=True)


CLICKED = """
  - name: clicked
    from: {connection: ma, segment: {field: last_email_click_at, within: 30d}}
    to: {connection: crm, campaign: Webinar, status: Sent}
    mode: mirror
"""


class ClickFeed(MemoryMA):
    """A memory MA whose click segment reads like Marketo's activity feed: the people who clicked since a
    moment, each stamped with their newest click; a member lapses 30 days after it."""

    reads: list[bool]

    def segment_lapse(self, segment: Segment) -> timedelta | None:
        if isinstance(segment, Condition) and segment.op is Op.WITHIN and isinstance(segment.value, timedelta):
            return segment.value
        return None  # anything else is read in full, by the reference evaluator

    def read_segment(
        self, segment: Segment, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        self.reads.append(since is None)
        window = self.segment_lapse(segment)
        if window is None:
            yield from super().read_segment(segment)
            return
        start = since.at if since is not None else self.data.clock() - window
        for p in list(self.data.people.values()):
            clicked = p.fields.get("last_email_click_at")
            if isinstance(clicked, datetime) and clicked >= start:
                yield MemberRecord(self._record(p), None, clicked, False, p.id)


def clicker(world: World, email: str, clicked: datetime) -> str:
    world.crm_person(email)
    return world.ma_person(email, last_email_click_at=clicked)


def engine_with_feed(world: World, reads: list[bool], config: str = CLICKED) -> Engine:
    cfg = world.config(config)
    engine = world.engine(cfg)
    connectors: dict[str, Connector] = dict(engine.connectors)
    feed = ClickFeed("ma", cfg.connections["ma"])
    feed.reads = reads
    connectors["ma"] = feed
    return Engine(cfg, world.store, connectors, clock=world.clock)


def run(world: World, reads: list[bool], config: str = CLICKED, full: bool = False) -> RunReport:
    report = engine_with_feed(world, reads, config).sync("clicked", full=full)
    assert report.status == "ok", report.message
    return report


def test_a_segment_with_a_window_is_read_for_its_changes_and_its_members_lapse(world: World) -> None:
    camp = world.campaign("Webinar")
    now = world.clock()
    clicker(world, "old@x.com", now - timedelta(days=29, hours=23))
    clicker(world, "new@x.com", now - timedelta(days=2))
    reads: list[bool] = []
    run(world, reads)
    assert set(world.crm_members(camp)) == {"old@x.com", "new@x.com"}

    world.clock.tick(2 * 3600)  # old@'s click is now 30 days and an hour ago
    fresh = clicker(world, "fresh@x.com", world.clock() - timedelta(minutes=1))
    second = run(world, reads)
    assert reads == [True, False]  # the second run read only what changed
    assert not second.full_read
    assert set(world.crm_members(camp)) == {"new@x.com", "fresh@x.com"}

    # A member who clicks again is stamped anew and stays past the old click's window.
    world.ma.people[fresh].fields["last_email_click_at"] = world.clock()
    world.clock.tick(29 * 86400)
    world.ma.people[fresh].fields["last_email_click_at"] = world.clock() - timedelta(minutes=1)
    run(world, reads)
    assert set(world.crm_members(camp)) == {"fresh@x.com"}
    assert reads == [True, False, True]  # a day has passed: that third run was a full read


def test_a_plan_shows_a_lapsed_member_leaving_without_forgetting_it(world: World) -> None:
    camp = world.campaign("Webinar")
    now = world.clock()
    clicker(world, "old@x.com", now - timedelta(days=29, hours=23))
    reads: list[bool] = []
    run(world, reads)
    world.clock.tick(2 * 3600)
    for _ in range(2):  # a plan writes nothing: asked twice, it says the same
        planned = engine_with_feed(world, reads).plan("clicked")
        assert [i.email for i in planned.removals] == ["old@x.com"]
    run(world, reads)
    assert world.crm_members(camp) == {}


def test_a_status_added_to_member_status_brings_its_members_in_at_once(world: World) -> None:
    camp = world.campaign("Webinar", [("Sent", False), ("Registered", False), ("Attended", True)])
    lst = world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("reg@x.com"), "Registered")
    world.crm.add_member(camp, world.crm_person("att@x.com"), "Attended")
    selective = MIRROR.replace("campaign: Webinar}", "campaign: Webinar, member_status: [Registered]}")
    world.sync(world.config(selective), "web")
    assert world.ma_emails(lst) == {"reg@x.com"}
    # att@'s membership is older than the watermark: an incremental read would not bring it back.
    widened = world.config(selective.replace("[Registered]", "[Registered, Attended]"))
    assert world.sync(widened, "web").full_read
    assert world.ma_emails(lst) == {"reg@x.com", "att@x.com"}


def test_a_full_read_is_told_how_many_members_the_last_full_read_found(world: World) -> None:
    # A system that does not say a container's size (Account Engagement) chooses pages or an export by it.
    camp, _ = world.campaign("Webinar"), world.ma_list("Nurture")
    for i in range(3):
        world.crm.add_member(camp, world.crm_person(f"p{i}@x.com"), "Sent")
    cfg = world.config(MIRROR)
    sizes: list[int | None] = []
    for _ in range(2):
        engine = world.engine(cfg)
        crm = engine.connectors["crm"]
        read = crm.read_members

        def spy(
            container: Container, since: Watermark | None = None, until: datetime | None = None, read: Any = read
        ) -> Any:
            sizes.append(container.size)
            return read(container, since, until)

        crm.read_members = spy  # type: ignore[method-assign]
        assert engine.sync("web", full=True).status == "ok"
        world.clock.tick(60)
    assert sizes == [None, 3]


class WholeReads(MemoryCRM):
    """A memory CRM with neither a change feed nor a membership version (like a Marketo smart list or a
    Dynamics dynamic list): every read of a campaign is a whole one."""

    reads_incrementally = False


def whole_reads_run(world: World, cfg: ClientConfig, **kw: Any) -> RunReport:
    engine = world.engine(cfg)
    connectors: dict[str, Connector] = dict(engine.connectors)
    connectors["crm"] = WholeReads("crm", cfg.connections["crm"])
    report = Engine(cfg, world.store, connectors, clock=world.clock).sync("web", **kw)
    world.clock.tick(60)
    return report


def test_a_source_without_feed_or_version_is_read_whole_from_the_remembered_campaign(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a = world.crm_person("a@x.com")
    world.crm.add_member(camp, a, "Sent")
    world.crm.add_member(camp, world.crm_person("b@x.com"), "Sent")
    cfg = world.config(MIRROR)
    assert whole_reads_run(world, cfg).status == "ok"
    world.crm.remove_member(camp, a)
    before = world.crm.calls
    second = whole_reads_run(world, cfg)
    # One call: the whole read, from the campaign the last full read found; no listing of campaigns.
    assert world.crm.calls - before == 1
    # Read whole, so a@'s leaving is seen at once.
    assert second.full_read
    assert second.status == "ok"
    assert world.ma_emails(lst) == {"b@x.com"}


def test_reads_from_the_remembered_campaign_do_not_put_off_the_scheduled_full_read(world: World) -> None:
    camp = world.campaign("Webinar")
    world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Sent")
    cfg = world.config(MIRROR)
    whole_reads_run(world, cfg)
    world.crm.containers[camp].name = "Webinar (old)"
    for _ in range(3):  # hours apart, within the day: the remembered campaign is read, renamed or not
        world.clock.tick(6 * 3600)
        assert whole_reads_run(world, cfg).status == "ok"
    world.clock.tick(6 * 3600)  # a day after the last lookup: the scheduled full read looks the name up
    with pytest.raises(FatalError, match="no campaign named 'Webinar'"):
        whole_reads_run(world, cfg)
