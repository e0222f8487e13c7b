"""The HubSpot emulator's Lists v3 and memberships, driven by the real hubspot-api-client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import hubspot
import pytest
from hubspot.crm.lists import ListCreateRequest, ListSearchRequest, MembershipChangeRequest
from hubspot.crm.lists.exceptions import ApiException, NotFoundException

from campaign_bridge.sandbox.hubspot import HubSpotSandbox, ManualClock

CUSTOMERS = {
    "filterBranchType": "OR",
    "filterBranches": [
        {
            "filterBranchType": "AND",
            "filters": [
                {
                    "filterType": "PROPERTY",
                    "property": "lifecyclestage",
                    "operation": {"operationType": "ENUMERATION", "operator": "IS_ANY_OF", "values": ["customer"]},
                }
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def server() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox() as sb:
        yield sb


@pytest.fixture
def sandbox(server: HubSpotSandbox) -> HubSpotSandbox:
    server.reset(clock=ManualClock())
    return server


@pytest.fixture
def client(sandbox: HubSpotSandbox) -> Any:
    return hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)


def create(client: Any, name: str, kind: str = "MANUAL", branch: dict[str, Any] | None = None) -> str:
    request = ListCreateRequest(name=name, object_type_id="0-1", processing_type=kind, filter_branch=branch)
    return str(client.crm.lists.lists_api.create(request).list.list_id)


def test_create_then_find_by_id_name_and_search(client: Any) -> None:
    list_id = create(client, "Webinar Q4 responders")
    create(client, "Newsletter")
    by_id = client.crm.lists.lists_api.get_by_id(list_id).list
    assert (by_id.name, by_id.processing_type, by_id.object_type_id, by_id.size) == (
        "Webinar Q4 responders",
        "MANUAL",
        "0-1",
        0,
    )
    assert client.crm.lists.lists_api.get_by_name("Webinar Q4 responders", "0-1").list.list_id == list_id
    found = client.crm.lists.lists_api.do_search(
        ListSearchRequest(query="webinar", processing_types=["MANUAL"], additional_properties=["hs_list_size"])
    )
    assert (found.total, found.has_more, [x.list_id for x in found.lists]) == (1, False, [list_id])
    # HubSpot's defaults come unasked; an empty list has no last-added or last-removed time yet.
    assert found.lists[0].additional_properties == {"hs_list_size": "0", "hs_list_reference_count": "0"}


def test_unknown_list_name_is_not_found(client: Any) -> None:
    with pytest.raises(NotFoundException):
        client.crm.lists.lists_api.get_by_name("nope", "0-1")


def test_add_remove_and_add_and_remove_use_hubspots_keys(sandbox: HubSpotSandbox, client: Any) -> None:
    a, b, c = sandbox.state.bulk_add_contacts(["a@x.com", "b@x.com", "c@x.com"])
    list_id = create(client, "Static")
    memberships = client.crm.lists.memberships_api

    added = memberships.add(list_id, [a, b, "424242"])
    assert (added.records_ids_added, added.record_ids_missing, added.record_ids_removed) == ([a, b], ["424242"], [])
    again = memberships.add(list_id, [a])
    assert (again.records_ids_added, again.record_ids_missing) == ([], [])

    removed = memberships.remove(list_id, [b, c])
    assert (removed.record_ids_removed, removed.records_ids_added) == ([b], [])

    both = memberships.add_and_remove(list_id, MembershipChangeRequest(record_ids_to_add=[c], record_ids_to_remove=[a]))
    assert (both.records_ids_added, both.record_ids_removed) == ([c], [a])
    assert sandbox.state.list_members(list_id) == {c}


def test_raw_response_spells_records_ids_added_as_hubspot_does(sandbox: HubSpotSandbox, client: Any) -> None:
    (a,) = sandbox.state.bulk_add_contacts(["a@x.com"])
    list_id = create(client, "Raw")
    raw = client.crm.lists.memberships_api.add(list_id, [a], _preload_content=False)
    assert json.loads(raw.data) == {"recordIdsRemoved": [], "recordsIdsAdded": [a], "recordIdsMissing": []}


def test_membership_pages_are_ordered_by_record_id(sandbox: HubSpotSandbox, client: Any) -> None:
    ids = sandbox.state.bulk_add_contacts(f"m{i}@x.com" for i in range(7))
    list_id = sandbox.state.add_list("Seeded")
    sandbox.state.add_list_members(list_id, reversed(ids))
    seen: list[str] = []
    after = None
    while True:
        page = client.crm.lists.memberships_api.get_page(list_id, after=after, limit=3)
        seen.extend(r.record_id for r in page.results)
        assert all(r.membership_timestamp.isoformat() == "2024-05-01T10:00:00+00:00" for r in page.results)
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after
    assert seen == sorted(ids, key=int)


def test_dynamic_list_follows_its_filters_and_refuses_writes(sandbox: HubSpotSandbox, client: Any) -> None:
    ada = sandbox.state.add_contact("ada@x.com", lifecyclestage="customer")
    bob = sandbox.state.add_contact("bob@x.com", lifecyclestage="lead")
    list_id = create(client, "Customers", "DYNAMIC", CUSTOMERS)
    assert {r.record_id for r in client.crm.lists.memberships_api.get_page(list_id).results} == {ada}

    sandbox.state.set_properties(bob, lifecyclestage="customer")
    assert sandbox.state.list_members(list_id) == {ada, bob}

    with pytest.raises(ApiException) as caught:
        client.crm.lists.memberships_api.add(list_id, [ada])
    error = json.loads(caught.value.body)
    assert caught.value.status == 400
    assert error["category"] == "VALIDATION_ERROR"
    assert "DYNAMIC" in error["message"]


def test_more_than_100000_record_ids_in_one_call_is_refused(client: Any) -> None:
    list_id = create(client, "Huge")
    with pytest.raises(ApiException) as caught:
        client.crm.lists.memberships_api.add(list_id, [str(i) for i in range(100_001)])
    assert caught.value.status == 400


def test_a_records_lists(sandbox: HubSpotSandbox, client: Any) -> None:
    (a,) = sandbox.state.bulk_add_contacts(["a@x.com"])
    first, _ = sandbox.state.add_list("One"), sandbox.state.add_list("Two")
    sandbox.state.add_list_members(first, [a])
    response = client.crm.lists.memberships_api.get_lists("0-1", a)
    assert [r.list_id for r in response.results] == [first]


@pytest.fixture
def clock(sandbox: HubSpotSandbox) -> ManualClock:
    assert isinstance(sandbox.state.clock, ManualClock)
    return sandbox.state.clock


def searched(client: Any, list_id: str, *extra: str) -> dict[str, str]:
    """The list's ``additionalProperties`` as a lists search answers them (only ``extra`` asked for)."""
    found = client.crm.lists.lists_api.do_search(
        ListSearchRequest(list_ids=[list_id], additional_properties=list(extra))
    )
    (row,) = found.lists
    return dict(row.additional_properties)


def test_search_returns_size_and_last_added_and_removed_times_unasked(
    sandbox: HubSpotSandbox, client: Any, clock: ManualClock
) -> None:
    a, b = sandbox.state.bulk_add_contacts(["a@x.com", "b@x.com"])
    list_id = create(client, "Changing")
    start_ms = int(clock() * 1000)

    clock.advance(5)
    client.crm.lists.memberships_api.add(list_id, [a, b])
    assert searched(client, list_id, "hs_list_size_week_delta") == {
        "hs_list_size": "2",
        "hs_last_record_added_at": str(start_ms + 5000),
        "hs_list_reference_count": "0",
    }

    clock.advance(5)
    client.crm.lists.memberships_api.remove(list_id, [b])
    after_remove = searched(client, list_id)
    assert (after_remove["hs_list_size"], after_remove["hs_last_record_added_at"]) == ("1", str(start_ms + 5000))
    assert after_remove["hs_last_record_removed_at"] == str(start_ms + 10_000)


def test_requests_that_change_no_membership_move_no_time(
    sandbox: HubSpotSandbox, client: Any, clock: ManualClock
) -> None:
    a, b = sandbox.state.bulk_add_contacts(["a@x.com", "b@x.com"])
    list_id = create(client, "Steady")
    client.crm.lists.memberships_api.add(list_id, [a])
    client.crm.lists.memberships_api.remove(list_id, [a])
    before = searched(client, list_id)

    clock.advance(60)
    client.crm.lists.memberships_api.add(list_id, [])
    client.crm.lists.memberships_api.remove(list_id, [b, "424242"])
    sandbox.state.add_list_members(list_id, [])

    assert searched(client, list_id) == before


def test_list_gets_carry_the_same_properties(sandbox: HubSpotSandbox, client: Any, clock: ManualClock) -> None:
    (a,) = sandbox.state.bulk_add_contacts(["a@x.com"])
    list_id = create(client, "Fetched")
    clock.advance(1)
    client.crm.lists.memberships_api.add(list_id, [a])
    expected = searched(client, list_id)
    api = client.crm.lists.lists_api

    by_id = json.loads(api.get_by_id(list_id, _preload_content=False).data)["list"]
    by_ids = json.loads(api.get_all(list_ids=[list_id], _preload_content=False).data)["lists"]
    by_name = json.loads(api.get_by_name("Fetched", "0-1", _preload_content=False).data)["list"]

    assert (by_id["size"], by_id["additionalProperties"]) == (1, expected)
    assert [row["additionalProperties"] for row in by_ids] == [expected]
    assert by_name["additionalProperties"] == expected


def test_a_dynamic_lists_refresh_moves_its_added_and_removed_times(
    sandbox: HubSpotSandbox, client: Any, clock: ManualClock
) -> None:
    ada = sandbox.state.add_contact("ada@x.com", lifecyclestage="customer")
    bob = sandbox.state.add_contact("bob@x.com", lifecyclestage="lead")
    list_id = create(client, "Customers", "DYNAMIC", CUSTOMERS)
    first = searched(client, list_id)
    assert first["hs_list_size"] == "1"

    clock.advance(10)  # bob becomes a customer as ada stops being one: the size stays 1
    sandbox.state.set_properties(bob, lifecyclestage="customer")
    sandbox.state.set_properties(ada, lifecyclestage="other")
    now_ms = str(int(clock() * 1000))
    assert searched(client, list_id) == {
        **first,
        "hs_last_record_added_at": now_ms,
        "hs_last_record_removed_at": now_ms,
    }


def test_deleted_contacts_leave_lists_when_hubspot_cleans_up(
    sandbox: HubSpotSandbox, client: Any, clock: ManualClock
) -> None:
    a, b = sandbox.state.bulk_add_contacts(["a@x.com", "b@x.com"])
    list_id = create(client, "With a leaver")
    client.crm.lists.memberships_api.add(list_id, [a, b])

    clock.advance(10)
    sandbox.state.archive_contact(b)
    assert searched(client, list_id)["hs_list_size"] == "2"  # not yet: HubSpot drops them on its own schedule

    clock.advance(10)
    sandbox.state.drop_deleted_members()
    after = searched(client, list_id)
    assert (after["hs_list_size"], after["hs_last_record_removed_at"]) == ("1", str(int(clock() * 1000)))
    assert sandbox.state.list_members(list_id) == {a}
