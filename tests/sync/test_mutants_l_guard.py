"""The removal share is judged against the members the rule owned when its run began.

A sync writes its adds while it reads the source, so by the time the guard judges the removals some of
this run's adds may already be in the list and in the ledger: how many depends on write batch sizes, on
when the target's lookups come back, and on whether the target takes concurrent calls. The share used to
count them, so the same plan was held or went out depending on timing (20 owned, 10 leaving, 100 joining:
held; the same with a few thousand joining: "10 of 120", and the 10 were removed). Found by mutation testing
(``Pipeline.drain`` and ``Pipeline.read_done`` writing the last adds before the guard).
"""

from __future__ import annotations

import dataclasses

import pytest

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.sync.pipeline import Tuning
from campaign_bridge.sync.plan import RunReport
from tests.sync.test_mutants_pipeline import MIRROR, SMALL, _engine, _sync
from tests.sync.world import World

SAFETY = "    safety: {max_removals: 1000, max_removal_fraction: 0.4}\n"
HELD = "removals held, not applied: the plan removes 10 of 20 members, more than max_removal_fraction=0.4"


def _twenty_owned_ten_leave(world: World, joining: int) -> tuple[str, ClientConfig]:
    """20 people synced into the list (the rule owns them); then 10 of them leave the CRM campaign and
    ``joining`` new people, each with an MA contact already, join it. Returns the list and the config."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    cfg = world.config(MIRROR + SAFETY)
    first = [world.crm_person(f"m{i:02d}@x.com") for i in range(20)]
    for pid in first:
        world.crm.add_member(camp, pid, "Responded")
    assert world.sync(cfg, "web").status == "ok"
    for pid in first[:10]:
        world.crm.remove_member(camp, pid)
    for i in range(joining):
        world.ma_person(f"j{i:05d}@x.com")
        world.crm.add_member(camp, world.crm_person(f"j{i:05d}@x.com"), "Responded")
    return lst, cfg


def _assert_held_and_added(world: World, lst: str, report: RunReport, joining: int) -> None:
    assert report.status == "held"
    assert report.message.startswith(HELD)
    assert report.counts.get("added") == joining
    emails = world.ma_emails(lst)
    assert {f"m{i:02d}@x.com" for i in range(20)} <= emails  # the 10 leavers are still in the list
    assert len(emails) == 20 + joining


def test_ten_of_twenty_owned_leaving_is_held_while_a_hundred_join(world: World) -> None:
    lst, cfg = _twenty_owned_ten_leave(world, joining=100)

    report = world.sync(cfg, "web")

    _assert_held_and_added(world, lst, report, 100)


def test_the_share_does_not_count_the_adds_written_before_the_guard(world: World) -> None:
    """Write batches of 10 (adds written while the source is read, and as the last lookups come in): the
    100 joiners are in the list before the guard judges the removals, and still the plan removes 10 of
    the 20 members the rule owned when the run began."""
    lst, cfg = _twenty_owned_ten_leave(world, joining=100)
    engine, _ = _engine(world, cfg)

    report = _sync(engine, world)

    _assert_held_and_added(world, lst, report, 100)


def test_the_share_does_not_count_adds_sent_from_the_writer_thread_at_the_end_of_the_read(world: World) -> None:
    """A target taking concurrent calls gets its adds from a thread of its own; whatever of them is sent
    and recorded when the read ends, the share is still 10 of 20."""
    lst, cfg = _twenty_owned_ten_leave(world, joining=100)
    engine, _ = _engine(world, cfg, concurrent=True, tuning=dataclasses.replace(SMALL, lookups_ahead=1))

    report = _sync(engine, world)

    _assert_held_and_added(world, lst, report, 100)


# Over 10,000 people: 47 worker-minutes of a whole mutation run, for a promise the tests above check with
# write batches of 10 (docs/testing.md, "Time").
@pytest.mark.costly
def test_with_the_default_sizes_thousands_joining_do_not_dilute_the_share(world: World) -> None:
    """With the measured sizes, a whole eager write of joiners goes out before the guard; the plan is held
    all the same. (The default MA answers lookups 100 at a time, so this needs more than one eager write.)"""
    joining = Tuning.default().eager_write + 200
    lst, cfg = _twenty_owned_ten_leave(world, joining=joining)

    report = world.sync(cfg, "web")

    _assert_held_and_added(world, lst, report, joining)
