"""A run that a bug stops half-way still leaves what it decided so far for ``conflicts`` and ``explain``,
and its run row counts the conflicts it met, as a run that ends in an error the product knows does."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_bridge.sync.plan import Kind
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_a_run_stopped_by_a_bug_still_logs_its_decisions_and_counts_its_conflicts(world: World) -> None:
    camp, _ = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person(None), "Responded")  # no email: unmatched before any lookup
    world.crm.add_member(camp, world.crm_person("ann@x.com"), "Responded")  # not in the MA: created
    engine = world.engine(world.config(MIRROR))

    def broken_create(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the MA connector")

    # the lookups are in (and their decisions made) when the run creates the people the MA lacks
    engine.connectors["ma"].create_people = broken_create  # type: ignore[attr-defined]

    with pytest.raises(RuntimeError):
        engine.sync("web")

    (run,) = world.store.runs(rule="web")
    assert run["status"] == "failed"
    assert run["counts"].get("conflicts") == 1
    logged = world.store.decisions(rule="web")
    assert [(d["kind"], d["email"]) for d in logged] == [(Kind.UNMATCHED_PERSON, None)]


def test_the_runs_row_of_a_sync_says_when_it_finished_what_it_read_and_what_it_did(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("ann@x.com"), "Responded")
    world.ma_person("ann@x.com")
    at = world.clock()

    report = world.sync(world.config(MIRROR), "web")

    assert world.ma_emails(lst) == {"ann@x.com"}
    # what `runs --json` shows, and what a restarted service reads as the rule's last success
    (run,) = world.store.runs(rule="web")
    assert (run["status"], run["error"], run["read_full"]) == ("ok", None, True)
    assert run["finished_at"].replace(tzinfo=None) == at.replace(tzinfo=None)  # SQLite keeps no zone
    assert run["counts"] == report.counts
    assert report.counts["added"] == 1
    assert run["api_calls"] == report.api_calls
    assert set(run["api_calls"]) == {"crm", "ma"}
    assert set(run["timings"]) == set(report.timings)


def test_a_sync_that_writes_nothing_still_logs_its_conflicts_and_counts_them(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person(None), "Responded")  # no email: nobody to add

    report = world.sync(world.config(MIRROR), "web")

    assert world.ma_emails(lst) == set()
    assert report.status == "ok"
    (run,) = world.store.runs(rule="web")
    assert run["counts"].get("conflicts") == 1  # the `runs` listing's conflicts column
    (logged,) = world.store.decisions(rule="web", conflicts_only=True)  # what `conflicts` lists
    assert (logged["kind"], logged["email"]) == (Kind.UNMATCHED_PERSON, None)
