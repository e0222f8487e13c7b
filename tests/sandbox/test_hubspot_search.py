"""The HubSpot emulator's contact search: operators, sorting, paging, caps and the per-second limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import hubspot
import pytest
from hubspot.crm.contacts import PublicObjectSearchRequest
from hubspot.crm.contacts.exceptions import ApiException

from campaign_bridge.sandbox.hubspot import HubSpotSandbox, ManualClock

MAY_1 = 1_714_521_600_000  # 2024-05-01T00:00:00Z in epoch ms
DAY = 86_400_000


@pytest.fixture
def monotonic() -> ManualClock:
    return ManualClock(0.0)


@pytest.fixture(scope="module")
def server() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox() as sb:
        yield sb


@pytest.fixture
def sandbox(server: HubSpotSandbox, monotonic: ManualClock) -> HubSpotSandbox:
    server.reset(clock=ManualClock(), monotonic=monotonic)
    state = server.state
    state.add_contact(
        "ada@acme.com",
        firstname="Ada",
        hubspotscore=90,
        lifecyclestage="customer",
        hs_analytics_last_url="https://acme.com/pricing/enterprise",
        hs_email_last_open_date=MAY_1 + 2 * DAY,
    )
    state.add_contact(
        "bob@acme.com",
        firstname="Bob",
        hubspotscore=40,
        lifecyclestage="lead",
        hs_analytics_last_url="https://acme.com/blog/pricing-tips",
        hs_email_last_open_date=MAY_1 - DAY,
    )
    state.add_contact(
        "cy@other.org",
        firstname="Cy",
        hubspotscore=65,
        lifecyclestage="lead",
        hs_email_hard_bounce_reason_enum="UNKNOWN_USER",
    )
    state.add_contact("di@other.org", firstname="Di")
    return server


@pytest.fixture
def client(sandbox: HubSpotSandbox) -> Any:
    return hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)


def search(client: Any, *filters: dict[str, Any], **extra: Any) -> list[str]:
    body = PublicObjectSearchRequest(filter_groups=[{"filters": list(filters)}] if filters else [], **extra)
    response = client.crm.contacts.search_api.do_search(body)
    return [r.properties["email"] for r in response.results]


def f(name: str, operator: str, value: Any = None, **more: Any) -> dict[str, Any]:
    return {"propertyName": name, "operator": operator, **({} if value is None else {"value": value}), **more}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([f("email", "EQ", "ADA@acme.com")], {"ada@acme.com"}),
        ([f("lifecyclestage", "NEQ", "lead")], {"ada@acme.com", "di@other.org"}),
        ([f("hubspotscore", "GT", "65")], {"ada@acme.com"}),
        ([f("hubspotscore", "GTE", "65")], {"ada@acme.com", "cy@other.org"}),
        ([f("hubspotscore", "LT", "65")], {"bob@acme.com"}),
        ([f("hubspotscore", "LTE", "65")], {"bob@acme.com", "cy@other.org"}),
        ([f("hubspotscore", "BETWEEN", "40", highValue="65")], {"bob@acme.com", "cy@other.org"}),
        ([f("firstname", "IN", values=["ada", "cy"])], {"ada@acme.com", "cy@other.org"}),
        ([f("firstname", "NOT_IN", values=["ada", "cy"])], {"bob@acme.com", "di@other.org"}),
        ([f("hs_email_hard_bounce_reason_enum", "HAS_PROPERTY")], {"cy@other.org"}),
        ([f("hubspotscore", "NOT_HAS_PROPERTY")], {"di@other.org"}),
        ([f("hs_analytics_last_url", "CONTAINS_TOKEN", "pricing")], {"ada@acme.com", "bob@acme.com"}),
        ([f("email", "CONTAINS_TOKEN", "*@acme.com")], {"ada@acme.com", "bob@acme.com"}),
        ([f("email", "NOT_CONTAINS_TOKEN", "*@acme.com")], {"cy@other.org", "di@other.org"}),
        # Only ``*`` is a wildcard: ``?`` and ``[`` match themselves, so these match nobody.
        ([f("email", "CONTAINS_TOKEN", "*@acme.co?")], set()),
        ([f("email", "CONTAINS_TOKEN", "[ab]*@acme.com")], set()),
        ([f("lifecyclestage", "EQ", "lead"), f("hubspotscore", "GT", "50")], {"cy@other.org"}),
    ],
)
def test_operators(client: Any, filters: list[dict[str, Any]], expected: set[str]) -> None:
    assert set(search(client, *filters, properties=["email"])) == expected


def test_filter_groups_are_ored(client: Any) -> None:
    body = PublicObjectSearchRequest(
        filter_groups=[
            {"filters": [f("firstname", "EQ", "Ada")]},
            {"filters": [f("firstname", "EQ", "Di")]},
        ],
        properties=["email"],
    )
    response = client.crm.contacts.search_api.do_search(body)
    assert {r.properties["email"] for r in response.results} == {"ada@acme.com", "di@other.org"}


@pytest.mark.parametrize("value", [str(MAY_1), "2024-05-01", "2024-05-01T00:00:00Z"])
def test_datetime_filters_take_epoch_ms_or_iso(client: Any, value: str) -> None:
    found = search(client, f("hs_email_last_open_date", "GTE", value), properties=["email"])
    assert found == ["ada@acme.com"]


def test_sort_descending_puts_missing_values_last(client: Any) -> None:
    found = search(client, sorts=[{"propertyName": "hubspotscore", "direction": "DESCENDING"}], properties=["email"])
    assert found == ["ada@acme.com", "cy@other.org", "bob@acme.com", "di@other.org"]


def test_datetime_values_come_back_iso_with_milliseconds(client: Any) -> None:
    body = PublicObjectSearchRequest(
        filter_groups=[{"filters": [f("email", "EQ", "ada@acme.com")]}], properties=["hs_email_last_open_date"]
    )
    result = client.crm.contacts.search_api.do_search(body).results[0]
    assert result.properties["hs_email_last_open_date"] == "2024-05-03T00:00:00.000Z"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"filterGroups": [{"filters": [f("email", "HAS_PROPERTY")]}] * 6}, "filter groups"),
        ({"filterGroups": [{"filters": [f("email", "HAS_PROPERTY")] * 7}]}, "filters in a filter group"),
        ({"filterGroups": [{"filters": [f("email", "HAS_PROPERTY")] * 6}] * 4}, "across all filter groups"),
        ({"limit": 201}, "limit"),
        ({"sorts": ["email", "firstname"]}, "one sort"),
    ],
)
def test_request_caps_answer_validation_errors(client: Any, body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.search_api.do_search(body)
    error = json.loads(caught.value.body)
    assert caught.value.status == 400
    assert error["category"] == "VALIDATION_ERROR"
    assert fragment in error["message"]


def test_paging_stops_at_the_ten_thousandth_result(sandbox: HubSpotSandbox, client: Any) -> None:
    sandbox.state.bulk_add_contacts(f"bulk{i}@big.com" for i in range(10_050))
    query = {"filterGroups": [{"filters": [f("email", "CONTAINS_TOKEN", "*@big.com")]}], "limit": 200}
    last_allowed = client.crm.contacts.search_api.do_search({**query, "after": "9800"})
    assert last_allowed.total == 10_050
    assert len(last_allowed.results) == 200
    assert last_allowed.paging.next.after == "10000"
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.search_api.do_search({**query, "after": last_allowed.paging.next.after})
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_sixth_search_within_a_second_gets_429(client: Any, monotonic: ManualClock) -> None:
    for _ in range(5):
        search(client)
    with pytest.raises(ApiException) as caught:
        search(client)
    assert caught.value.status == 429
    assert json.loads(caught.value.body)["message"] == "You have reached your secondly limit."
    assert caught.value.headers["Retry-After"] == "1"
    monotonic.advance(1.0)
    assert len(search(client, properties=["email"])) == 4
