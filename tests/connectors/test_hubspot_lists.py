"""HubSpot lists as audiences: capabilities, member reads, membership writes and their outcomes, and a
sustained sync that stays under the portal's 10-second limit."""

from __future__ import annotations

from collections.abc import Callable

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


def test_finding_a_list_gives_its_size_and_membership_version_in_one_call(hs: HubSpotHarness) -> None:
    for i in range(520):  # more than one page of the lists search
        hs.sb.state.add_list(f"Filler {i}")
    list_id = hs.sb.state.add_list("Webinar Q4")
    hs.sb.state.add_list("Webinar Q4 archive")  # a name that contains the wanted one
    a, b = hs.add_person("a@example.com"), hs.add_person("b@example.com")
    hs.tick(5)
    hs.sb.state.add_list_members(list_id, [a.id, b.id])
    added_ms = int(hs.wall() * 1000)
    conn = hs.connector()

    by_name = conn.find_container("list", "Webinar Q4")
    by_id = conn.find_container("list", list_id)

    assert (by_name.id, by_name.size, by_name.membership_version) == (list_id, 2, f"2/{added_ms}/")
    assert by_id == by_name
    assert conn.usage().calls == 2  # one lists search each, however many lists the portal has
    assert hs.sb.server.calls(r"/crm/v3/lists/search$", "POST") == 2


def test_finding_a_list_that_is_not_there_still_names_the_close_ones(hs: HubSpotHarness) -> None:
    hs.sb.state.add_list("Webinar Q4 responders")
    with pytest.raises(FatalError, match="did you mean 'Webinar Q4 responders'"):
        hs.connector().find_container("list", "Webinar Q4 responder")


def test_a_new_empty_list_has_a_version_and_size_zero(hs: HubSpotHarness) -> None:
    list_id = hs.sb.state.add_list("Empty")
    found = hs.connector().find_container("list", list_id)
    assert (found.size, found.membership_version) == (0, "0//")


def test_the_membership_version_holds_while_the_list_is_unchanged(hs: HubSpotHarness) -> None:
    list_id = hs.sb.state.add_list("Quiet")
    a, b = hs.add_person("a@example.com"), hs.add_person("b@example.com")
    hs.sb.state.add_list_members(list_id, [a.id, b.id])
    conn = hs.connector()
    first = conn.find_container("list", list_id)

    assert len(list(conn.read_members(first))) == 2
    hs.tick(3600)
    hs.sb.state.set_properties(a.id, firstname="Ann")  # a member's contact changes, the list does not
    hs.sb.state.add_list_members(list_id, [a.id])  # already a member: no change
    again = conn.find_container("list", "Quiet")

    assert again.membership_version == first.membership_version is not None


def _add_by_rule(hs: HubSpotHarness, list_id: str, people: dict[str, RecordRef]) -> None:
    conn = hs.connector()
    conn.apply_changes(conn.find_container("list", list_id), [Change(ChangeAction.ADD, people["c"])])


def _remove_by_hand(hs: HubSpotHarness, list_id: str, people: dict[str, RecordRef]) -> None:
    hs.sb.state.remove_list_members(list_id, [people["a"].id])


def _add_then_remove(hs: HubSpotHarness, list_id: str, people: dict[str, RecordRef]) -> None:
    hs.sb.state.add_list_members(list_id, [people["c"].id])
    hs.tick(1)
    hs.sb.state.remove_list_members(list_id, [people["c"].id])  # the same members as before


def _swap_in_one_call(hs: HubSpotHarness, list_id: str, people: dict[str, RecordRef]) -> None:
    conn = hs.connector()
    container = conn.find_container("list", list_id)
    conn.apply_changes(container, [Change(ChangeAction.ADD, people["c"]), Change(ChangeAction.REMOVE, people["a"])])


def _delete_a_member(hs: HubSpotHarness, list_id: str, people: dict[str, RecordRef]) -> None:
    hs.sb.state.archive_contact(people["a"].id)
    hs.tick(1)
    hs.sb.state.drop_deleted_members()  # HubSpot's clean-up, on its own schedule


@pytest.mark.parametrize(
    "change",
    [_add_by_rule, _remove_by_hand, _add_then_remove, _swap_in_one_call, _delete_a_member],
    ids=["add", "remove", "add-then-remove", "swap-same-size", "member-deleted"],
)
def test_the_membership_version_moves_on_every_membership_change(
    hs: HubSpotHarness, change: Callable[[HubSpotHarness, str, dict[str, RecordRef]], None]
) -> None:
    list_id = hs.sb.state.add_list("Changing")
    people = {x: hs.add_person(f"{x}@example.com") for x in "abc"}
    hs.sb.state.add_list_members(list_id, [people["a"].id, people["b"].id])
    conn = hs.connector()
    before = conn.find_container("list", list_id)
    hs.tick(1)

    change(hs, list_id, people)

    after = conn.find_container("list", list_id)
    assert after.membership_version != before.membership_version
    assert after.size == len(hs.sb.state.list_members(list_id))
    assert after.membership_version == conn.find_container("list", list_id).membership_version  # and holds


def test_a_dynamic_lists_version_moves_when_hubspot_recomputes_it(hs: HubSpotHarness) -> None:
    ada = hs.add_person("ada@example.com", first_name="Ada")
    bob = hs.add_person("bob@example.com", first_name="Bob")
    list_id = hs.sb.state.add_list(
        "Customers", "DYNAMIC", predicate=lambda c: c.properties.get("lifecyclestage") == "customer"
    )
    hs.sb.state.set_properties(ada.id, lifecyclestage="customer")
    conn = hs.connector()
    before = conn.find_container("list", list_id)
    assert (before.kind, before.size) == (ContainerKind.DYNAMIC_LIST, 1)

    hs.tick(1)  # bob becomes a customer as ada stops being one: the size stays 1
    hs.sb.state.set_properties(bob.id, lifecyclestage="customer")
    hs.sb.state.set_properties(ada.id, lifecyclestage="other")
    after = conn.find_container("list", list_id)

    assert after.size == 1
    assert after.membership_version != before.membership_version
    assert {r.person.ref.id for r in conn.read_members(after)} == {bob.id}


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
        conn = hs.connector()  # a private app: paced at 100 requests per 10 s by default
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
