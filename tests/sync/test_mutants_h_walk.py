"""A converted lead's membership read between full reads (``sync/walk.py``: the snapshot key of a record).

A lead in a source campaign is converted (the memory CRM moves its membership to the contact, as Salesforce
does), and the contact later leaves the campaign: the incremental run that reads the removal removes the
member from the target. The snapshot kept the lead's record under the contact's id before, so the row the
lead's first read wrote stayed behind and the person counted as still in the source until the next full read.
"""

from __future__ import annotations

from campaign_bridge.sync.pipeline import Tuning
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_a_converted_leads_contact_leaving_the_source_is_removed_by_the_next_incremental_run(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    lead = world.crm_person("ann@x.com", "Lead")
    world.crm.add_member(camp, lead, "Sent")
    world.crm.add_member(camp, world.crm_person("bob@x.com"), "Sent")
    cfg = world.config(MIRROR)
    assert world.sync(cfg, "web").full_read
    contact = world.crm_person("ann@x.com")
    world.crm.convert(lead, contact)
    converted = world.sync(cfg, "web")
    assert not converted.full_read
    assert world.ma_emails(lst) == {"ann@x.com", "bob@x.com"}

    world.crm.remove_member(camp, contact)
    left = world.sync(cfg, "web")

    assert not left.full_read
    assert [i.email for i in left.removals] == ["ann@x.com"]
    assert world.ma_emails(lst) == {"bob@x.com"}


def test_a_lead_converted_into_a_contact_already_in_the_source_is_removed_once_the_contact_leaves(
    world: World,
) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    lead, contact = world.crm_person("ann@x.com", "Lead"), world.crm_person("ann@x.com")
    world.crm.add_member(camp, lead, "Sent")
    world.crm.add_member(camp, contact, "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    world.crm.convert(lead, contact)
    world.sync(cfg, "web")
    assert world.ma_emails(lst) == {"ann@x.com"}  # still in the campaign through the contact

    world.crm.remove_member(camp, contact)
    left = world.sync(cfg, "web")

    assert not left.full_read
    assert world.ma_emails(lst) == set()


def test_each_member_who_left_is_planned_and_removed_once(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    people = [world.crm_person(f"{name}@x.com") for name in ("ann", "bob", "cy", "dee")]
    for pid in people:
        world.crm.add_member(camp, pid, "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    for pid in people[:3]:
        world.crm.remove_member(camp, pid)

    planned = world.engine(cfg).plan("web", full=True)
    report = world.sync(cfg, "web", full=True)

    assert sorted(i.email or "" for i in planned.removals) == ["ann@x.com", "bob@x.com", "cy@x.com"]
    assert planned.as_json()["planned"]["removals"] == 3
    assert report.counts.get("removed") == 3
    assert world.ma_emails(lst) == {"dee@x.com"}


def test_the_progress_bar_of_the_read_is_labelled_read_and_counts_the_records(world: World) -> None:
    camp = world.campaign("Webinar")
    world.ma_list("Nurture")
    for name in ("ann", "bob", "cy"):
        world.crm.add_member(camp, world.crm_person(f"{name}@x.com"), "Sent")
    cfg = world.config(MIRROR)
    seen: list[tuple[str, int, int]] = []
    engine = world.engine(cfg)
    engine.progress = lambda stage, done, total: seen.append((stage, done, total))

    engine.sync("web")

    assert [s for s in seen if s[0] == "read"][-1] == ("read", 3, 3)


def test_each_incremental_run_reads_from_the_newest_change_the_last_one_read(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("ann@x.com"), "Sent")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    reads = []
    for name in ("bob", "cy", "dee"):
        world.clock.tick(2 * 3600)  # well past the look-back
        world.crm.add_member(camp, world.crm_person(f"{name}@x.com"), "Sent")
        report = world.sync(cfg, "web")
        assert not report.full_read
        reads.append(report.read)

    # each reads the new member, and the one the watermark stands on again (within the look-back): the
    # newest change read moves the watermark, so what earlier runs read is not read again and again
    assert reads == [2, 2, 2]
    assert world.ma_emails(lst) == {"ann@x.com", "bob@x.com", "cy@x.com", "dee@x.com"}


def test_a_run_reading_its_source_in_several_chunks_counts_every_record_read(world: World) -> None:
    camp = world.campaign("Webinar")
    lst = world.ma_list("Nurture")
    for i in range(23):
        world.crm.add_member(camp, world.crm_person(f"p{i}@x.com"), "Sent")
    cfg = world.config(MIRROR)
    small = Tuning(chunk=10, first_chunk=5, eager_write=10, eager_bulk=30, read_ahead=2, lookups_ahead=2)
    engine = world.engine(cfg)
    engine.tuning = small

    report = engine.sync("web")

    assert (report.read, report.as_json()["read"]) == (23, 23)
    assert len(world.ma_emails(lst)) == 23
