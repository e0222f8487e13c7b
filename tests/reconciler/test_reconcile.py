"""Reconcile on the memory pair: each kind of drift is found, and --repair fixes exactly what it should."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from campaign_bridge.errors import LeaseHeldError
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.reconciler import Action, FindingKind, run_reconcile
from tests.reconciler.helpers import actions, config, found, reconcile
from tests.sync.world import World

TO_LIST = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: MODE
    on_manual_removal: POLICY
"""

TO_CAMPAIGN = """
  - name: pricing
    from: {connection: ma, list: Pricing}
    to: {connection: crm, campaign: Interest, status: Responded}
    match: {create_missing: lead}
"""

STATUSES = [("Sent", False), ("Responded", True), ("Attended", True)]


def _to_list(mode: str = "additive", policy: str = "respect") -> str:
    return TO_LIST.replace("MODE", mode).replace("POLICY", policy)


def _seed_webinar(world: World, emails: list[str]) -> tuple[str, str, dict[str, str]]:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = {}
    for email in emails:
        ids[email] = world.crm_person(email)
        world.crm.add_member(camp, ids[email], "Sent")
    return camp, lst, ids


def _ma_id(world: World, email: str) -> str:
    return world.ma.person_id(email)


def test_a_rule_in_sync_has_no_drift_and_reconcile_writes_nothing(world: World) -> None:
    _, lst, _ = _seed_webinar(world, ["a@x.com", "b@x.com"])
    cfg = config(world, _to_list())
    world.sync(cfg, "web")
    calls = world.ma.calls

    report = reconcile(world, cfg, "web", repair=True)

    assert report.status == "ok"
    assert report.findings == []
    assert report.counts["in_sync"] == 2
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}
    assert world.ma.calls - calls == 2  # the container listing and one page of members: no look-up, no write


def test_owned_member_removed_by_hand_is_reported_then_restored_when_the_rule_says_restore(world: World) -> None:
    _, lst, _ = _seed_webinar(world, ["a@x.com", "b@x.com"])
    cfg = config(world, _to_list(policy="restore"))
    world.sync(cfg, "web")
    world.ma.remove_member(lst, _ma_id(world, "a@x.com"))

    seen = reconcile(world, cfg, "web")
    assert seen.status == "drift"
    assert found(seen) == {("missing", "a@x.com")}
    assert world.ma_emails(lst) == {"b@x.com"}  # a report changes nothing

    repaired = reconcile(world, cfg, "web", repair=True)
    assert repaired.status == "repaired"
    assert actions(repaired) == {(FindingKind.MISSING, "a@x.com"): Action.RESTORED}
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}
    row = world.store.ledger("web")[world.store.persons_by_emails(["a@x.com"])["a@x.com"]]
    assert (row.state, row.owned) == ("present", True)
    assert reconcile(world, cfg, "web").status == "ok"


def test_manual_removal_is_respected_by_repair_and_by_later_syncs(world: World) -> None:
    _, lst, _ = _seed_webinar(world, ["a@x.com", "b@x.com"])
    cfg = config(world, _to_list(policy="respect"))
    world.sync(cfg, "web")
    world.ma.remove_member(lst, _ma_id(world, "a@x.com"))

    repaired = reconcile(world, cfg, "web", repair=True)

    assert actions(repaired) == {(FindingKind.MISSING, "a@x.com"): Action.RESPECTED}
    assert world.ma_emails(lst) == {"b@x.com"}
    world.sync(cfg, "web", full=True)
    assert world.ma_emails(lst) == {"b@x.com"}  # the next sync does not put a back either
    assert reconcile(world, cfg, "web").status == "ok"  # and it is not drift any more

    # The policy changes to restore: the respected removal is now drift, and --repair restores it.
    restore = config(world, _to_list(policy="restore"))
    again = reconcile(world, restore, "web", repair=True)
    assert actions(again) == {(FindingKind.MISSING, "a@x.com"): Action.RESTORED}
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}


def test_members_the_rule_does_not_own_are_reported_once_and_never_touched(world: World) -> None:
    _, lst, _ = _seed_webinar(world, ["a@x.com"])
    cfg = config(world, _to_list(mode="mirror", policy="restore"))
    world.sync(cfg, "web")
    world.ma.add_member(lst, world.ma_person("stranger@x.com"))

    first = reconcile(world, cfg, "web", repair=True)
    second = reconcile(world, cfg, "web", repair=True)

    assert found(first) == found(second) == {("unowned", "stranger@x.com")}
    assert first.status == "ok"  # an unowned member is reported, not drift to repair
    assert world.ma_emails(lst) == {"a@x.com", "stranger@x.com"}
    world.sync(cfg, "web", full=True)
    assert world.ma_emails(lst) == {"a@x.com", "stranger@x.com"}
    logged = world.store.decisions(email="stranger@x.com")
    assert [d["kind"] for d in logged] == ["drift"]  # logged when first found, not on every reconcile


def test_status_mismatch_is_raised_to_the_rules_status_but_never_lowered(world: World) -> None:
    lst = world.ma_list("Pricing")
    camp = world.crm.add_container("Interest", ContainerKind.CAMPAIGN, STATUSES)
    for email in ("low@x.com", "high@x.com", "same@x.com"):
        world.ma.add_member(lst, world.ma_person(email))
    cfg = config(world, TO_CAMPAIGN)
    world.sync(cfg, "pricing")
    world.crm.containers[camp].members[world.crm.person_id("low@x.com")].status = "Sent"
    world.crm.containers[camp].members[world.crm.person_id("high@x.com")].status = "Attended"

    seen = reconcile(world, cfg, "pricing")
    assert found(seen) == {("status_mismatch", "low@x.com"), ("status_mismatch", "high@x.com")}

    repaired = reconcile(world, cfg, "pricing", repair=True)
    assert actions(repaired) == {
        (FindingKind.STATUS_MISMATCH, "low@x.com"): Action.STATUS_RAISED,
        (FindingKind.STATUS_MISMATCH, "high@x.com"): Action.STATUS_ADOPTED,
    }
    assert world.crm_members(camp) == {"low@x.com": "Responded", "high@x.com": "Attended", "same@x.com": "Responded"}
    assert reconcile(world, cfg, "pricing").status == "ok"


def test_a_deleted_target_record_is_forgotten_and_the_next_sync_adds_the_person_anew(world: World) -> None:
    _, lst, _ = _seed_webinar(world, ["a@x.com", "b@x.com"])
    cfg = config(world, _to_list())
    world.sync(cfg, "web")
    old = _ma_id(world, "a@x.com")
    world.ma.people[old].deleted = True

    repaired = reconcile(world, cfg, "web", repair=True)

    assert actions(repaired) == {(FindingKind.STALE_IDENTITY, "a@x.com"): Action.FORGOTTEN}
    assert "deleted" in repaired.findings[0].detail
    assert [d["kind"] for d in world.store.decisions(email="a@x.com", conflicts_only=True)] == ["record_deleted"]
    world.sync(cfg, "web")
    fresh = [p.id for p in world.ma.people.values() if p.email == "a@x.com" and not p.deleted]
    assert len(fresh) == 1
    assert fresh[0] != old
    assert fresh[0] in world.ma.members(lst)
    assert reconcile(world, cfg, "web").status == "ok"


def test_a_converted_target_lead_is_followed_to_its_contact(world: World) -> None:
    lst = world.ma_list("Pricing")
    camp = world.crm.add_container("Interest", ContainerKind.CAMPAIGN, STATUSES)
    world.ma.add_member(lst, world.ma_person("lead@x.com"))
    cfg = config(world, TO_CAMPAIGN)
    world.sync(cfg, "pricing")
    lead = world.crm.person_id("lead@x.com")
    contact = world.crm_person("lead@x.com")
    world.crm.convert(lead, contact)

    repaired = reconcile(world, cfg, "pricing", repair=True)

    assert actions(repaired) == {(FindingKind.STALE_IDENTITY, "lead@x.com"): Action.REPOINTED}
    row = next(iter(world.store.ledger("pricing").values()))
    assert (row.target_record_id, row.target_kind, row.state) == (contact, "Contact", "present")
    assert world.crm.members(camp) == {contact: "Responded"}
    assert reconcile(world, cfg, "pricing").status == "ok"


def test_a_merged_source_record_is_a_stale_identity_until_repaired(world: World) -> None:
    camp, _, ids = _seed_webinar(world, ["a@x.com", "b@x.com"])
    cfg = config(world, _to_list())
    world.sync(cfg, "web")
    world.crm.people[ids["a@x.com"]].merged_into = ids["b@x.com"]

    report = reconcile(world, cfg, "web", repair=True)

    assert actions(report) == {(FindingKind.STALE_IDENTITY, "a@x.com"): Action.REPOINTED}
    assert world.store.refs_by_ids("crm", [ids["a@x.com"]])[ids["a@x.com"]].state == "merged"
    assert reconcile(world, cfg, "web").status == "ok"


def test_ledger_rows_with_no_counterpart_are_forgotten_and_nothing_else_changes(world: World) -> None:
    camp, lst, ids = _seed_webinar(world, ["gone@x.com", "kept@x.com"])
    cfg = config(world, _to_list())  # additive: the rule never removes, so the row would stay for ever
    world.sync(cfg, "web")
    world.crm.remove_member(camp, ids["gone@x.com"])
    world.ma.remove_member(lst, _ma_id(world, "gone@x.com"))
    world.sync(cfg, "web", full=True)

    repaired = reconcile(world, cfg, "web", repair=True)

    assert actions(repaired) == {(FindingKind.ORPHAN_LEDGER_ROW, "gone@x.com"): Action.FORGOTTEN}
    keys = world.store.persons_by_emails(["gone@x.com", "kept@x.com"])
    assert set(world.store.ledger("web")) == {keys["kept@x.com"]}
    assert world.ma_emails(lst) == {"kept@x.com"}


def test_ledger_rows_for_a_container_the_rule_no_longer_writes_to_are_orphans(world: World) -> None:
    _seed_webinar(world, ["a@x.com"])
    new_list = world.ma_list("Nurture 2")
    world.sync(config(world, _to_list()), "web")
    moved = config(world, _to_list().replace("list: Nurture", "list: Nurture 2"))

    report = reconcile(world, moved, "web", repair=True)

    assert actions(report) == {(FindingKind.ORPHAN_LEDGER_ROW, "a@x.com"): Action.FORGOTTEN}
    world.sync(moved, "web")
    assert world.ma_emails(new_list) == {"a@x.com"}  # the sync no longer mistakes the old list's row for this one


def test_findings_are_stored_with_their_run_and_what_repair_did(world: World) -> None:
    _, lst, _ = _seed_webinar(world, ["a@x.com"])
    cfg = config(world, _to_list(policy="restore"))
    world.sync(cfg, "web")
    world.ma.remove_member(lst, _ma_id(world, "a@x.com"))

    report = run_reconcile(cfg, "web", repair=True, clock=world.clock)

    rows = world.store.findings(run_id=report.run_id)
    assert [(r["kind"], r["email"], r["action"]) for r in rows] == [("missing", "a@x.com", "restored")]
    run = world.store.runs(limit=1, rule="web")[0]
    assert (run["mode"], run["status"], run["counts"]["missing"]) == ("reconcile", "repaired", 1)


def test_reconcile_waits_for_a_running_sync_of_the_same_rule(world: World) -> None:
    _, lst, _ = _seed_webinar(world, ["a@x.com"])
    cfg = config(world, _to_list(policy="restore"))
    world.sync(cfg, "web")
    world.ma.remove_member(lst, _ma_id(world, "a@x.com"))
    assert world.store.try_lease("web", "a-sync-worker", world.clock() + timedelta(minutes=5), world.clock())

    with pytest.raises(LeaseHeldError, match="'web'"):
        reconcile(world, cfg, "web", repair=True)

    assert world.ma_emails(lst) == set()
    assert world.store.runs(limit=1, rule="web")[0]["mode"] == "sync"  # no reconcile run was recorded
    world.store.release_lease("web", "a-sync-worker")
    assert reconcile(world, cfg, "web", repair=True).status == "repaired"


def test_a_restore_the_target_refuses_is_reported_per_item_and_the_run_is_partial(world: World) -> None:
    _, lst, _ = _seed_webinar(world, ["a@x.com", "b@x.com"])
    cfg = config(world, _to_list(policy="restore"))
    world.sync(cfg, "web")
    for email in ("a@x.com", "b@x.com"):
        world.ma.remove_member(lst, _ma_id(world, email))
    world.ma.containers[lst].reject["a@x.com"] = ("INVALID_EMAIL", "the list refuses this address")

    report = reconcile(world, cfg, "web", repair=True)

    assert report.status == "partial"
    outcome = {f.email: (f.action, f.outcome) for f in report.findings}
    assert outcome["b@x.com"] == (Action.RESTORED, None)
    assert outcome["a@x.com"][0] is Action.FAILED
    assert "INVALID_EMAIL" in (outcome["a@x.com"][1] or "")
    assert world.ma_emails(lst) == {"b@x.com"}
    row = world.store.ledger("web")[world.store.persons_by_emails(["a@x.com"])["a@x.com"]]
    assert (row.state, row.last_error) == ("rejected", "INVALID_EMAIL: the list refuses this address")


def test_reconcile_takes_over_the_lease_of_a_dead_worker_on_this_host(world: World) -> None:
    """A worker killed mid-run leaves its lease behind; on the same host its process is known to be gone,
    so a reconcile (like a sync) takes the lease over at once instead of waiting 15 minutes for it."""
    _, lst, _ = _seed_webinar(world, ["a@x.com"])
    cfg = config(world, _to_list(policy="restore"))
    world.sync(cfg, "web")
    world.ma.remove_member(lst, _ma_id(world, "a@x.com"))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process
    dead = f"{socket.gethostname()}:{gone.pid}:deadbeef"
    assert world.store.try_lease("web", dead, world.clock() + timedelta(minutes=15), world.clock())

    report = reconcile(world, cfg, "web", repair=True)

    assert report.status == "repaired"
    assert world.ma_emails(lst) == {"a@x.com"}
    assert world.store.lease_holder("web") is None  # taken over, then released when the reconcile ended


def test_reconcile_never_takes_the_lease_of_a_live_worker(world: World) -> None:
    _seed_webinar(world, ["a@x.com"])
    cfg = config(world, _to_list(policy="restore"))
    alive = f"{socket.gethostname()}:{os.getpid()}:cafebabe"  # this very process: certainly alive
    assert world.store.try_lease("web", alive, world.clock() + timedelta(minutes=15), world.clock())

    with pytest.raises(LeaseHeldError):
        reconcile(world, cfg, "web")
    assert world.store.lease_holder("web") == alive
