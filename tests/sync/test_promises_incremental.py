"""Incremental reads lose nobody: a member whose change is stamped just behind the watermark (committed
late) is caught by the look-back, and one stamped in the same second as the watermark is read (``>=``)."""

from __future__ import annotations

from datetime import timedelta

from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_a_member_stamped_just_behind_the_watermark_is_added_by_the_next_incremental_run(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("early@x.com"), "Sent")
    cfg = world.config(MIRROR)
    first = world.sync(cfg, "web")
    assert first.full_read
    late = world.crm_person("late@x.com")
    world.crm.add_member(camp, late, "Sent")
    # committed after the run, stamped half a minute before the watermark (the last run's newest stamp)
    world.crm.containers[camp].members[late].modified_at = world.clock() - timedelta(seconds=90)

    planned = world.engine(cfg).plan("web")  # `plan` reads as the next run would: incrementally
    assert not planned.full_read
    assert [i.email for i in planned.adds] == ["late@x.com"]
    second = world.sync(cfg, "web")

    assert not second.full_read
    assert world.ma_emails(lst) == {"early@x.com", "late@x.com"}


def test_a_member_stamped_behind_the_look_back_waits_for_the_next_full_read(world: World) -> None:
    # The look-back is a window, not a full read: this is what it means to set it.
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("early@x.com"), "Sent")
    cfg = world.config(MIRROR, defaults="defaults: {lookback: 1m}")
    world.sync(cfg, "web")
    late = world.crm_person("late@x.com")
    world.crm.add_member(camp, late, "Sent")
    world.crm.containers[camp].members[late].modified_at = world.clock() - timedelta(minutes=3)
    assert not world.sync(cfg, "web").full_read
    assert world.ma_emails(lst) == {"early@x.com"}
    world.sync(cfg, "web", full=True)
    assert world.ma_emails(lst) == {"early@x.com", "late@x.com"}


def test_two_members_in_the_same_second_are_both_read_even_without_a_look_back(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    cfg = world.config(MIRROR, defaults="defaults: {lookback: 0s}")
    first = world.crm_person("first@x.com")
    world.crm.add_member(camp, first, "Sent")
    stamp = world.crm.containers[camp].members[first].modified_at
    world.sync(cfg, "web")
    second = world.crm_person("second@x.com")
    world.crm.add_member(camp, second, "Sent")
    world.crm.containers[camp].members[second].modified_at = stamp  # the same second as the watermark

    report = world.sync(cfg, "web")

    assert not report.full_read
    assert world.ma_emails(lst) == {"first@x.com", "second@x.com"}


def test_an_incremental_run_removes_a_member_whose_removal_it_reads(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a, b = world.crm_person("a@x.com"), world.crm_person("b@x.com")
    world.crm.add_member(camp, a, "Sent")
    world.crm.add_member(camp, b, "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    world.crm.remove_member(camp, a)
    report = world.sync(cfg, "web")
    assert not report.full_read
    assert world.ma_emails(lst) == {"b@x.com"}


def test_a_first_run_of_an_empty_source_still_reads_what_arrives_later(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    cfg = world.config(MIRROR)
    assert world.sync(cfg, "web").status == "ok"
    world.crm.add_member(camp, world.crm_person("first@x.com"), "Sent")
    report = world.sync(cfg, "web")
    assert report.status == "ok"
    assert not report.full_read
    assert world.ma_emails(lst) == {"first@x.com"}


def test_a_source_stamp_ahead_of_our_clock_does_not_carry_the_watermark_past_the_run(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ahead = world.crm_person("ahead@x.com")
    world.crm.add_member(camp, ahead, "Sent")
    world.crm.containers[camp].members[ahead].modified_at = world.clock() + timedelta(hours=1)  # a skewed clock
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    world.crm.add_member(camp, world.crm_person("next@x.com"), "Sent")  # stamped a minute later, by our clock
    report = world.sync(cfg, "web")
    assert not report.full_read
    assert world.ma_emails(lst) == {"ahead@x.com", "next@x.com"}
