"""The HubSpot emulator's CRM v3 contacts, driven by the real hubspot-api-client over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import hubspot
import pytest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException

from campaign_bridge.sandbox.hubspot import HubSpotSandbox, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_714_557_600.0)  # 2024-05-01T10:00:00Z


@pytest.fixture(scope="module")
def server() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox() as sb:
        yield sb


@pytest.fixture
def sandbox(server: HubSpotSandbox, clock: ManualClock) -> HubSpotSandbox:
    server.reset(clock=clock)
    return server


@pytest.fixture
def client(sandbox: HubSpotSandbox) -> Any:
    return hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)


def test_paging_walks_every_contact_once_with_cursor_and_link(sandbox: HubSpotSandbox, client: Any) -> None:
    ids = sandbox.state.bulk_add_contacts(f"p{i}@x.com" for i in range(23))
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=10, after=after, properties=["email"])
        seen.extend(r.id for r in page.results)
        pages += 1
        if page.paging is None:
            break
        after = page.paging.next.after
        assert page.paging.next.link.startswith(f"{sandbox.url}/crm/v3/objects/contacts?")
    assert seen == ids
    assert pages == 3


def test_record_shape_has_iso_millisecond_timestamps_and_nulls_for_unset(sandbox: HubSpotSandbox, client: Any) -> None:
    contact_id = sandbox.state.add_contact("a@x.com", firstname="Ada", hs_email_last_open_date=1714560000000)
    got = client.crm.contacts.basic_api.get_by_id(
        contact_id, properties=["email", "lastname", "hs_email_last_open_date"]
    )
    assert got.properties["hs_object_id"] == contact_id
    assert got.properties["createdate"] == "2024-05-01T10:00:00.000Z"
    assert got.properties["hs_email_last_open_date"] == "2024-05-01T10:40:00.000Z"
    assert got.properties["lastname"] is None
    assert got.created_at.isoformat() == "2024-05-01T10:00:00+00:00"


def test_get_by_email_and_missing_contact_is_not_found(sandbox: HubSpotSandbox, client: Any) -> None:
    contact_id = sandbox.state.add_contact("Mixed.Case@X.com")
    got = client.crm.contacts.basic_api.get_by_id("mixed.case@x.com", id_property="email")
    assert got.id == contact_id
    with pytest.raises(NotFoundException):
        client.crm.contacts.basic_api.get_by_id("999999")


def test_batch_read_by_email_reports_misses_with_207(sandbox: HubSpotSandbox, client: Any) -> None:
    known = sandbox.state.add_contact("known@x.com")
    request = BatchReadInputSimplePublicObjectId(
        id_property="email",
        inputs=[{"id": "known@x.com"}, {"id": "ghost@x.com"}],
        properties=["email"],
        properties_with_history=[],
    )
    response = client.crm.contacts.batch_api.read(request)
    assert type(response).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert [r.id for r in response.results] == [known]
    assert response.num_errors == 1
    assert response.errors[0].category == "OBJECT_NOT_FOUND"
    assert response.errors[0].context == {"ids": ["ghost@x.com"]}


def test_batch_read_of_more_than_100_inputs_is_refused(client: Any) -> None:
    request = BatchReadInputSimplePublicObjectId(inputs=[{"id": str(i)} for i in range(101)], properties=[])
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.read(request)
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_upsert_by_email_updates_existing_and_creates_new(
    sandbox: HubSpotSandbox, client: Any, clock: ManualClock
) -> None:
    existing = sandbox.state.add_contact("old@x.com", firstname="Old")
    clock.advance(60)
    body = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            {"id": "old@x.com", "idProperty": "email", "properties": {"lastname": "Updated"}},
            {"id": "new@x.com", "idProperty": "email", "properties": {"firstname": "New"}},
        ]
    )
    response = client.crm.contacts.batch_api.upsert(body)
    outcome = {r.properties["email"] if r.new else r.id: r.new for r in response.results}
    assert outcome == {existing: False, "new@x.com": True}
    assert sandbox.state.get_contact(existing)["lastname"] == "Updated"
    assert sandbox.state.get_contact(existing)["lastmodifieddate"] == "2024-05-01T10:01:00.000Z"
    assert sandbox.state.find_contact("new@x.com") is not None


def test_create_with_taken_email_answers_409_with_existing_id(sandbox: HubSpotSandbox, client: Any) -> None:
    existing = sandbox.state.add_contact("dup@x.com")
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "DUP@x.com"}))
    body = json.loads(caught.value.body)
    assert caught.value.status == 409
    assert body["message"] == f"Contact already exists. Existing ID: {existing}"
    assert body["category"] == "CONFLICT"


def test_invalid_property_values_fail_the_whole_batch(sandbox: HubSpotSandbox, client: Any) -> None:
    body = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            {"properties": {"email": "fine@x.com"}},
            {"properties": {"email": "not-an-email", "no_such_prop": "x"}},
        ]
    )
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.create(body)
    error = json.loads(caught.value.body)
    assert caught.value.status == 400
    assert error["message"].startswith("Property values were not valid: [")
    assert {e["code"] for e in error["errors"]} == {"INVALID_EMAIL", "PROPERTY_DOESNT_EXIST"}
    assert sandbox.state.find_contact("fine@x.com") is None


def test_update_moves_lastmodifieddate_on_the_portal_clock(
    sandbox: HubSpotSandbox, client: Any, clock: ManualClock
) -> None:
    contact_id = sandbox.state.add_contact("m@x.com")
    clock.advance(3600)
    updated = client.crm.contacts.basic_api.update(
        contact_id, SimplePublicObjectInput(properties={"hs_lead_status": "OPEN"})
    )
    assert updated.properties["hs_lead_status"] == "OPEN"
    assert updated.properties["lastmodifieddate"] == "2024-05-01T11:00:00.000Z"
    assert updated.properties["createdate"] == "2024-05-01T10:00:00.000Z"
