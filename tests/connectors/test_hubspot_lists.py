"""HubSpot lists as audiences: capabilities, member reads, membership writes and their outcomes, and a
sustained sync that stays under the portal's 10-second limit."""

from __future__ import annotations

import pytest

from campaign_bridge.connectors.hubspot import HubSpotConnector
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import Change, ChangeAction, ContainerKind, OutcomeState, RecordRef
from tests.contract.harness_hubspot import HubSpotHarness


def _ref(contact_id: str) -> RecordRef:
    return RecordRef("sys", "contact", contact_id)


def test_lists_are_static_or_dynamic_and_only_static_ones_writable(hs: HubSpotHarness) -> None:
    manual = hs.sb.state.add_list("Manual", "MANUAL")
    snapshot = hs.sb.state.add_list("Snapshot", "SNAPSHOT")
    dynamic = hs.sb.state.add_list("Active", "DYNAMIC")
    for i in range(520):  # more than one page of the lists search
        hs.sb.state.add_list(f"Filler {i}")

    found = {c.id: c for c in hs.connector().list_containers()}

    assert len(found) == 523
    assert (found[manual].kind, found[manual].writable) == (ContainerKind.STATIC_LIST, True)
    assert (found[snapshot].kind, found[snapshot].writable) == (ContainerKind.STATIC_LIST, True)
    assert (found[dynamic].kind, found[dynamic].writable) == (ContainerKind.DYNAMIC_LIST, False)


def test_writing_a_dynamic_list_is_refused_with_the_reason(hs: HubSpotHarness) -> None:
    dynamic = hs.sb.state.add_list("Active", "DYNAMIC")
    person = hs.add_person("a@example.com")
    conn = hs.connector()
    container = conn.find_container("list", "Active")

    with pytest.raises(FatalError, match="computed by the system"):
        conn.apply_changes(container, [Change(ChangeAction.ADD, person)])
    assert hs.sb.state.list_members(dynamic) == set()
    assert hs.sb.server.calls(r"/memberships/") == 0


def test_a_list_that_became_dynamic_behind_our_back_is_refused_by_hubspot(hs: HubSpotHarness) -> None:
    list_id = hs.sb.state.add_list("Turned active", "DYNAMIC")
    person = hs.add_person("a@example.com")
    conn = hs.connector()
    stale = conn.find_container("list", list_id)
    stale = type(stale)(stale.connection, stale.id, stale.name, ContainerKind.STATIC_LIST)  # as read yesterday

    with pytest.raises(FatalError, match="processingType DYNAMIC"):
        conn.apply_changes(stale, [Change(ChangeAction.ADD, person)])


def test_membership_outcomes_per_change(hs: HubSpotHarness) -> None:
    list_id = hs.sb.state.add_list("Outcomes")
    a, b, c = (hs.add_person(f"{x}@example.com") for x in "abc")
    hs.add_member(list_id, b)
    conn = hs.connector()
    container = conn.find_container("list", list_id)

    outcomes = conn.apply_changes(
        container,
        [
            Change(ChangeAction.ADD, a),  # new
            Change(ChangeAction.ADD, b),  # already there
            Change(ChangeAction.REMOVE, c),  # not there
            Change(ChangeAction.ADD, _ref("999999")),  # no such contact
            Change(ChangeAction.SET_STATUS, a, "Registered"),  # lists have no status
            Change(ChangeAction.REMOVE, a),  # the same person again: after the add
        ],
    )

    assert [(o.state, o.code) for o in outcomes] == [
        (OutcomeState.APPLIED, None),
        (OutcomeState.ALREADY_PRESENT, None),
        (OutcomeState.ALREADY_ABSENT, None),
        (OutcomeState.REJECTED, "NOT_FOUND"),
        (OutcomeState.REJECTED, "NO_STATUS"),
        (OutcomeState.APPLIED, None),
    ]
    assert hs.sb.state.list_members(list_id) == {b.id}


def test_adds_and_removes_go_in_one_call(hs: HubSpotHarness) -> None:
    list_id = hs.sb.state.add_list("Mixed")
    keep, leave, join = (hs.add_person(f"{x}@example.com") for x in ("keep", "leave", "join"))
    hs.add_member(list_id, keep)
    hs.add_member(list_id, leave)
    conn = hs.connector()
    container = conn.find_container("list", list_id)
    hs.sb.server.reset_log()

    outcomes = conn.apply_changes(container, [Change(ChangeAction.ADD, join), Change(ChangeAction.REMOVE, leave)])

    assert [o.state for o in outcomes] == [OutcomeState.APPLIED, OutcomeState.APPLIED]
    assert hs.sb.state.list_members(list_id) == {keep.id, join.id}
    assert hs.sb.server.calls(r"/memberships/add-and-remove$", "PUT") == 1
    assert len(hs.sb.server.log) == 1


def test_full_read_reports_members_whose_contact_was_deleted(hs: HubSpotHarness) -> None:
    list_id = hs.sb.state.add_list("With a ghost")
    alive, gone = hs.add_person("alive@example.com"), hs.add_person("gone@example.com")
    hs.sb.state.add_list_members(list_id, [alive.id, gone.id])
    hs.sb.state.archive_contact(gone.id)
    conn = hs.connector()

    rows = {r.person.ref.id: r.person for r in conn.read_members(conn.find_container("list", list_id))}

    # HubSpot drops archived contacts from lists on its own schedule; until then they read as deleted.
    assert rows[alive.id].email == "alive@example.com"
    assert not rows[alive.id].deleted
    assert rows[gone.id].deleted
    assert rows[gone.id].email is None


def _sustained_sync(hs: HubSpotHarness, conn: HubSpotConnector, n: int) -> tuple[str, int]:
    """Look up ``n`` people by email and add them all to a list, as the engine would. (list id, 429s)."""
    emails = [f"s{i}@example.com" for i in range(n)]
    hs.sb.state.bulk_add_contacts(emails)
    list_id = hs.sb.state.add_list("Nurture")
    container = conn.find_container("list", list_id)
    refs = []
    for start in range(0, n, conn.lookup_batch_size):
        found = conn.lookup_people(emails[start : start + conn.lookup_batch_size])
        refs += [records[0].ref for records in found.values()]
    outcomes = []
    for start in range(0, len(refs), conn.write_batch_size):
        batch = [Change(ChangeAction.ADD, r) for r in refs[start : start + conn.write_batch_size]]
        outcomes += conn.apply_changes(container, batch)
    assert [o.state for o in outcomes] == [OutcomeState.APPLIED] * n
    assert len(hs.sb.state.list_members(list_id)) == n
    return list_id, sum(1 for entry in hs.sb.server.log if entry.status == 429)


def test_sustained_sync_of_20000_members_meets_no_rate_limit() -> None:
    hs = HubSpotHarness(ten_second_limit=100)
    try:
        conn = hs.connector()  # a private app: paced below 100 requests per 10 s by default
        start = hs.pace()

        _, refusals = _sustained_sync(hs, conn, 20_000)

        assert refusals == 0
        assert conn.usage().calls >= 200  # 200 lookups of 100, the list search, the writes
        assert hs.pace() - start >= 20  # over 200 calls at under 100 per 10 s: the pacing did wait
    finally:
        hs.close()


def test_another_integration_spending_the_window_is_seen_in_hubspots_headers() -> None:
    hs = HubSpotHarness(ten_second_limit=100)
    try:
        conn = hs.connector()
        for _ in range(95):  # someone else's calls on the same app, just before ours
            hs.sb.state.limits.check(hs.sb.token, oauth=False, search=False, wall_seconds=hs.wall())

        _, refusals = _sustained_sync(hs, conn, 2_000)

        assert refusals <= 1  # our own count knew nothing; X-HubSpot-RateLimit-Remaining did
    finally:
        hs.close()
