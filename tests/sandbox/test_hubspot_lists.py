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
    assert found.lists[0].additional_properties == {"hs_list_size": "0"}


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
