"""Typed rows and state names through the store, on both backends: what is written reads back the same,
states come back as their enums, and the strings in the database are the ones it always held."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from campaign_bridge.mapping.model import RecordRef
from campaign_bridge.reconciler.report import Action, Finding, FindingKind
from campaign_bridge.sync.identity import ref_row
from campaign_bridge.sync.plan import Decision, Kind
from campaign_bridge.sync.store import tables
from campaign_bridge.sync.store.states import LedgerState, RefState, RunStatus
from campaign_bridge.sync.store.store import LedgerRow, RefRow, SnapshotRow, Store

NOW = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.close()


def _ledger_row(store: Store, state: LedgerState, key: str | None = None) -> LedgerRow:
    [person] = store.add_persons([f"{state}@x.com"], NOW) if key is None else [key]
    return LedgerRow("web", person, "ma", "L1", "101", "contact", "Sent", True, state, 1, "why", NOW)


def test_every_ledger_state_reads_back_as_its_enum_and_is_stored_as_its_string(store: Store) -> None:
    rows = [_ledger_row(store, state) for state in LedgerState]
    store.write_ledger(rows)
    read = store.ledger("web")
    assert read == {r.person_key: r for r in rows}
    assert {type(r.state) for r in read.values()} == {LedgerState}
    with store.engine.connect() as conn:
        stored = conn.execute(select(tables.ledger.c.state)).scalars().all()
    assert sorted(stored) == sorted(["pending", "present", "removing", "failed", "dead", "rejected", "blocked"])
    assert store.ledger_keys_in_state("web", [LedgerState.DEAD]) == {r.person_key for r in rows if r.state == "dead"}


def test_a_row_an_older_version_wrote_as_a_bare_string_reads_back_as_the_enum(store: Store) -> None:
    [person] = store.add_persons(["old@x.com"], NOW)
    with store.engine.begin() as conn:
        conn.execute(
            insert(tables.ledger).values(
                rule="web", person_key=person, connection="ma", container_id="L1", state="present", owned=True
            )
        )
    row = store.ledger("web")[person]
    assert row.state is LedgerState.PRESENT
    assert (row.attempts, row.owned) == (0, True)
    assert store.ledger_counts("web") == {"present": 1, "owned": 1}


def test_crosswalk_rows_read_back_as_written_with_their_state(store: Store) -> None:
    [person] = store.add_persons(["ada@x.com"], NOW)
    lead, contact = RecordRef("crm", "Lead", "00Q1"), RecordRef("crm", "Contact", "0031")
    rows = [
        ref_row("crm", lead, person, "ada@x.com", RefState.CONVERTED, contact.id, NOW),
        ref_row("crm", contact, person, "ada@x.com", RefState.ACTIVE, None, NOW),
    ]
    store.upsert_refs(rows)
    assert store.refs_by_ids("crm", ["00Q1", "0031"]) == {"00Q1": rows[0], "0031": rows[1]}
    later = NOW + timedelta(days=1)
    deleted = RefRow("crm", "0031", "Contact", person, "ada@x.com", RefState.DELETED, None, later)
    store.upsert_refs([deleted])  # an upsert by (connection, record id)
    assert store.refs_of_persons("crm", [person]) == {person: [rows[0], deleted]}
    assert store.refs_by_ids("crm", ["0031"])["0031"].state is RefState.DELETED


def test_snapshot_rows_are_written_for_their_rule_and_stamped_with_the_read(store: Store) -> None:
    [a, b] = store.add_persons(["a@x.com", "b@x.com"], NOW)
    rows = [SnapshotRow("r1", a, "Sent", NOW), SnapshotRow("r2", b, None, None)]
    assert store.update_snapshot("web", rows, [], seen_in="read-1") == set()
    assert store.snapshot_records("web", ["r1", "r2"]) == {"r1": a, "r2": b}
    assert store.snapshot_records("other", ["r1", "r2"]) == {}
    # a second full read sees r1 only: r2 was not stamped by it
    store.update_snapshot("web", [SnapshotRow("r1", a, "Responded", NOW)], [], seen_in="read-2")
    assert store.drop_unseen("web", "read-2") == {b}
    assert store.snapshot_persons("web") == {a}
    with store.engine.connect() as conn:
        c = tables.source_members.c
        stored = conn.execute(select(c.rule, c.record_id, c.status, c.seen_in)).all()
    assert [tuple(r) for r in stored] == [("web", "r1", "Responded", "read-2")]


def test_decisions_and_findings_are_written_as_typed_rows(store: Store) -> None:
    run_id = store.start_run("acme", "web", "reconcile", NOW)
    store.log(
        [
            Decision(Kind.ADDED, "p1", "a@x.com", "added", "ma:L1").row(run_id, "web", NOW),
            Decision(Kind.DRIFT, None, None, "drifted").row(run_id, "web", NOW),
        ]
    )
    logged = store.decisions(rule="web")
    assert [(d["kind"], d["is_conflict"], d["run_id"]) for d in logged] == [
        ("drift", True, run_id),
        ("added", False, run_id),
    ]
    assert [d["kind"] for d in store.decisions(conflicts_only=True)] == ["drift"]

    missing = Finding(FindingKind.MISSING, "p1", "a@x.com", "contact:101", "gone", action=Action.RESTORED)
    unowned = Finding(FindingKind.UNOWNED, None, "z@x.com", "contact:999", "not ours")
    store.save_findings(run_id, "web", [missing.row(), unowned.row()], NOW)
    found = store.findings(run_id=run_id)
    assert [(f["kind"], f["record"], f["action"], f["rule"]) for f in found] == [
        ("unowned", "contact:999", None, "web"),
        ("missing", "contact:101", "restored", "web"),
    ]
    assert store.reported_records("web", FindingKind.UNOWNED) == {"contact:999"}
    assert store.reported_records("other", FindingKind.UNOWNED) == set()


def test_run_statuses_are_stored_as_their_strings(store: Store) -> None:
    ids = {status: store.start_run("acme", "web", "sync", NOW) for status in RunStatus}
    assert {r["status"] for r in store.runs(limit=100)} == {"running"}
    for status, run_id in ids.items():
        store.finish_run(run_id, status=status, finished_at=NOW)
    runs = store.runs(limit=100, rule="web", mode="sync")
    assert sorted(r["status"] for r in runs) == sorted(s.value for s in RunStatus)
    assert {RunStatus(r["status"]) for r in runs} == set(RunStatus)
    assert store.runs(mode="reconcile") == []
