"""A rule's snapshot of who is in its source through which record: a full sync prunes the records it no longer
finds, and a full `plan` leaves the snapshot as it was (a plan writes no state). A person in the source through
two records (a lead and a contact of one address) shows both."""

from __future__ import annotations

from tests.sync.test_mutants_h_diff import MIRROR
from tests.sync.world import World


def _twice(world: World) -> tuple[str, str, str, str]:
    """ada@x.com in the Webinar campaign through a lead and a contact, synced once into Nurture."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    lead, contact = world.crm_person("ada@x.com", "Lead"), world.crm_person("ada@x.com")
    world.crm.add_member(camp, lead, "Responded")
    world.crm.add_member(camp, contact, "Responded")
    world.ma_person("ada@x.com")
    world.sync(world.config(MIRROR), "web")
    assert world.ma_emails(lst) == {"ada@x.com"}
    return camp, lst, lead, contact


def test_a_record_a_full_sync_no_longer_finds_does_not_keep_its_person_in_the_source(world: World) -> None:
    camp, lst, lead, contact = _twice(world)
    cfg = world.config(MIRROR)
    del world.crm.containers[camp].members[lead]  # gone without a trace, as a vendor's hard delete
    world.sync(cfg, "web", full=True)
    world.crm.remove_member(camp, contact)

    report = world.sync(cfg, "web")

    assert report.counts.get("removed") == 1
    assert world.ma_emails(lst) == set()


def test_a_full_plan_leaves_the_snapshot_as_it_was(world: World) -> None:
    camp, lst, lead, _ = _twice(world)
    cfg = world.config(MIRROR)
    before = world.store.snapshot_persons("web")

    world.engine(cfg).plan("web", full=True)

    assert world.store.snapshot_persons("web") == before
    world.crm.remove_member(camp, lead)  # she is still in the campaign through her contact
    report = world.sync(cfg, "web")
    assert report.counts.get("removed", 0) == 0
    assert world.ma_emails(lst) == {"ada@x.com"}
