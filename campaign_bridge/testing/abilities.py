"""The contract of the abilities a connector declares: ``concurrent_calls`` and ``SupportsBulkApply``.

A connector that says ``concurrent_calls`` is called from several threads at once by the engine (lookups
in one while it writes in another): each caller must get its own, correct answer. One that is
``SupportsBulkApply`` has ``apply_bulk`` called above ``bulk_threshold`` changes instead of batches of
``apply_changes``: it must give the same outcome per change, in order, and leave the same members.
A connector that declares neither skips these tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from campaign_bridge.connectors.base import Connector, SupportsBulkApply
from campaign_bridge.mapping.model import Change, ChangeAction, OutcomeState, PersonRecord, RecordRef
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.testing.harness import Harness

#: Threads calling one connector at once (the engine uses two; more shake out shared state sooner).
THREADS = 4
#: Lookups each thread makes, one after another, while the others make theirs.
ROUNDS = 3
#: Seconds the threads wait for each other to start: a guard against a hung test, never a timing.
START_GUARD_SECONDS = 60

T = TypeVar("T")


def _at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``calls`` in their own threads, released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait(timeout=START_GUARD_SECONDS)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _ids(found: dict[str, list[PersonRecord]]) -> dict[str, list[str]]:
    return {email: sorted(r.ref.id for r in records) for email, records in found.items()}


def _concurrent(conn: Connector) -> None:
    if not conn.concurrent_calls:
        pytest.skip(f"{conn.system} is called from one thread at a time")


class AbilitiesContract:
    """The declared abilities; each test takes the ``harness`` fixture of the system under test."""

    def test_concurrent_lookups_each_get_their_own_answer(self, harness: Harness) -> None:
        conn = harness.connector()
        _concurrent(conn)
        size = min(conn.lookup_batch_size, 25)
        groups = [[f"thread{t}.person{i}@example.com" for i in range(size)] for t in range(THREADS)]
        people = {email: harness.add_person(email).id for group in groups for email in group}

        def lookups(emails: list[str]) -> Callable[[], list[dict[str, list[str]]]]:
            return lambda: [_ids(conn.lookup_people(emails)) for _ in range(ROUNDS)]

        answers = _at_once([lookups(group) for group in groups])
        for group, rounds in zip(groups, answers, strict=True):
            expected = {email: [people[email]] for email in group}
            assert rounds == [expected] * ROUNDS

    def test_concurrent_writes_and_lookups_both_land(self, harness: Harness) -> None:
        conn = harness.connector()
        _concurrent(conn)
        cid = harness.add_container("Written while looking up")
        container = conn.find_container(harness.container_key, cid)
        status = container.default_status.label if container.default_status else None
        size = min(conn.write_batch_size, conn.lookup_batch_size, 50)
        joining = [harness.add_person(f"joining{i}@example.com") for i in range(size)]
        wanted = {f"looked.up{i}@example.com": harness.add_person(f"looked.up{i}@example.com").id for i in range(size)}

        def write() -> list[OutcomeState]:
            return [
                o.state for o in conn.apply_changes(container, [Change(ChangeAction.ADD, r, status) for r in joining])
            ]

        def look() -> list[OutcomeState]:
            assert _ids(conn.lookup_people(list(wanted))) == {email: [pid] for email, pid in wanted.items()}
            return []

        written, _ = _at_once([write, look])
        assert written == [OutcomeState.APPLIED] * size
        assert set(harness.members(cid)) == {r.id for r in joining}

    def test_bulk_gives_the_outcomes_batches_give(self, harness: Harness) -> None:
        conn = harness.connector()
        if not isinstance(conn, SupportsBulkApply):
            pytest.skip(f"{conn.system} has no bulk writes")
        crm = harness.role is Role.CRM
        statuses = [("Sent", False), ("Responded", True)]
        batched_id, bulk_id = (
            harness.add_container("By batches", statuses=statuses),
            harness.add_container("In bulk", statuses=statuses),
        )
        sent = "Sent" if crm else None
        members = [harness.add_person(f"member{i}@example.com") for i in range(3)]
        for cid in (batched_id, bulk_id):
            for ref in members:
                harness.add_member(cid, ref, sent)
        outsider = harness.add_person("outsider@example.com")
        special: list[tuple[Change, OutcomeState]] = [
            (Change(ChangeAction.ADD, members[0], sent), OutcomeState.ALREADY_PRESENT),
            (Change(ChangeAction.REMOVE, members[1]), OutcomeState.APPLIED),
            (Change(ChangeAction.REMOVE, outsider), OutcomeState.ALREADY_ABSENT),
        ]
        if crm:
            special += [
                (Change(ChangeAction.SET_STATUS, members[2], "Responded"), OutcomeState.APPLIED),
                (Change(ChangeAction.ADD, harness.add_person("odd@example.com"), "Exploded"), OutcomeState.REJECTED),
            ]
        count = conn.bulk_threshold + 1 - len(special)  # just past the threshold: the engine goes bulk
        assert conn.bulk_threshold + 1 <= conn.bulk_batch_size
        joining: list[RecordRef] = [harness.add_person(f"bulk.joiner{i}@example.com") for i in range(count)]
        changes = [Change(ChangeAction.ADD, r, sent) for r in joining] + [change for change, _ in special]

        batched_container = conn.find_container(harness.container_key, batched_id)
        batched = []
        for start in range(0, len(changes), conn.write_batch_size):
            batched += conn.apply_changes(batched_container, changes[start : start + conn.write_batch_size])
        bulk = conn.apply_bulk(conn.find_container(harness.container_key, bulk_id), changes)

        assert [o.change for o in bulk] == changes  # one outcome per change, in order
        assert [o.state for o in bulk] == [o.state for o in batched]
        assert [o.state for o in bulk] == [OutcomeState.APPLIED] * count + [state for _, state in special]
        assert all(o.message for o in bulk if o.state is OutcomeState.REJECTED)
        assert harness.members(bulk_id) == harness.members(batched_id)
        assert len(harness.members(bulk_id)) == len(members) - 1 + count
