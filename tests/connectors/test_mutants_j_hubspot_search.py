"""What a HubSpot segment read asks the contact search for, and how it reads what comes back.

The read is keyset-paged on ``lastmodifieddate`` (search.py's docstring): each search must ask for that order
in so many words (HubSpot's reference does not say what a misspelled or missing direction does), and for the
properties the read needs; the cursor and each record's stamp must come from the property the search sorts
by, not from the contact's ``updatedAt``, which the sandbox (unlike, possibly, HubSpot) keeps equal to it.
Replies are edited on their way back to the connector to show it what HubSpot could send.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.connectors.hubspot import HubSpotConnector
from campaign_bridge.connectors.hubspot.timestamps import parse_time
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.segment import parse_segment
from tests.contract.harness_hubspot import HubSpotHarness

SCORED = parse_segment({"field": "score", "gte": 50})
#: More searches than any read below needs: a cursor that stops advancing fails the test instead of looping.
MOST_SEARCHES = 6


class _Edited:
    """A search answer with its JSON body changed by ``edit``, as the generated client hands it over."""

    def __init__(self, response: Any, edit: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.status, self.headers = response.status, response.headers
        self.data = json.dumps(edit(json.loads(response.data))).encode()
        response.release_conn()

    def release_conn(self) -> None:
        pass


def _spy(
    conn: HubSpotConnector,
    monkeypatch: pytest.MonkeyPatch,
    edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Record every search body the connector sends (and edit the answers, when ``edit`` is given)."""
    api = conn.client.contacts_search
    send = api.do_search
    bodies: list[dict[str, Any]] = []

    def do_search(body: dict[str, Any], **opts: Any) -> Any:
        bodies.append(json.loads(json.dumps(body)))
        assert len(bodies) <= MOST_SEARCHES, "the read keeps searching: its cursor does not advance"
        response = send(body, **opts)
        return response if edit is None else _Edited(response, edit)

    monkeypatch.setattr(api, "do_search", do_search)
    return bodies


def _seed(hs: HubSpotHarness, count: int) -> tuple[list[str], datetime]:
    """``count`` scored contacts, each modified one second after the one before, oldest first."""
    start = hs.now() - timedelta(days=1)
    ids = hs.sb.state.bulk_add_contacts(
        [
            (f"p{i}@example.com", {"hubspotscore": 70, "lastmodifieddate": start + timedelta(seconds=i)})
            for i in range(count)
        ]
    )
    return ids, start


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _each_result(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(body: dict[str, Any]) -> dict[str, Any]:
        for row in body.get("results") or []:
            change(row)
        return body

    return edit


def _hour_earlier_updated_at(row: dict[str, Any]) -> None:
    stamp = parse_time(row["properties"]["lastmodifieddate"])
    assert stamp is not None
    row["updatedAt"] = (stamp - timedelta(hours=1)).isoformat()


def test_every_search_asks_for_ascending_lastmodifieddate_and_the_properties_the_read_needs(
    hs: HubSpotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, _ = _seed(hs, 201)
    conn = hs.connector()
    bodies = _spy(conn, monkeypatch)

    found = [r.person.ref.id for r in conn.read_segment(SCORED)]

    assert sorted(found) == sorted(ids)
    assert len(bodies) == 2
    for body in bodies:
        assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
        assert {"email", "lastmodifieddate"} <= set(body["properties"])


def test_the_cursor_and_each_stamp_follow_lastmodifieddate_not_updated_at(
    hs: HubSpotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, start = _seed(hs, 201)
    conn = hs.connector()
    bodies = _spy(conn, monkeypatch, _each_result(_hour_earlier_updated_at))

    records = list(conn.read_segment(SCORED))

    assert sorted(r.person.ref.id for r in records) == sorted(ids)
    # the second page starts at the stamp of the first page's last contact, the 200th
    window = [f for f in bodies[1]["filterGroups"][0]["filters"] if f["propertyName"] == "lastmodifieddate"]
    assert window == [
        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": _ms(start + timedelta(seconds=199))}
    ]
    stamps = {r.person.ref.id: r.modified_at for r in records}
    assert stamps[ids[0]] == start
    assert stamps[ids[200]] == start + timedelta(seconds=200)


def test_a_contact_returned_without_lastmodifieddate_is_placed_by_its_updated_at(
    hs: HubSpotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, start = _seed(hs, 201)
    conn = hs.connector()
    bodies = _spy(conn, monkeypatch, _each_result(lambda row: row["properties"].pop("lastmodifieddate", None)))

    records = list(conn.read_segment(SCORED))

    assert sorted(r.person.ref.id for r in records) == sorted(ids)
    window = [f for f in bodies[1]["filterGroups"][0]["filters"] if f["propertyName"] == "lastmodifieddate"]
    assert window[0]["value"] == _ms(start + timedelta(seconds=199))
    assert {r.person.ref.id: r.modified_at for r in records}[ids[5]] == start + timedelta(seconds=5)


def test_a_contact_returned_without_any_stamp_fails_the_read_naming_it(
    hs: HubSpotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, _ = _seed(hs, 201)
    conn = hs.connector()

    def unstamped(row: dict[str, Any]) -> None:
        row["properties"].pop("lastmodifieddate", None)
        row.pop("updatedAt", None)

    _spy(conn, monkeypatch, _each_result(unstamped))

    with pytest.raises(TransientError) as caught:
        list(conn.read_segment(SCORED))
    assert str(caught.value) == f"contact {ids[199]} came back without a readable lastmodifieddate"


def test_a_search_answer_without_results_is_a_transient_failure_naming_the_connection(
    hs: HubSpotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(hs, 3)
    conn = hs.connector()
    _spy(conn, monkeypatch, lambda body: {"total": 0})

    with pytest.raises(TransientError) as caught:
        list(conn.read_segment(SCORED))
    assert str(caught.value) == f"{conn.client.connection}: the contact search answered without 'results'"


def test_a_result_without_an_id_is_skipped_and_the_others_are_read(
    hs: HubSpotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, _ = _seed(hs, 3)
    conn = hs.connector()

    def with_a_stray(body: dict[str, Any]) -> dict[str, Any]:
        body["results"].append({"properties": {"email": "stray@example.com"}})
        return body

    _spy(conn, monkeypatch, with_a_stray)

    assert sorted(r.person.ref.id for r in conn.read_segment(SCORED)) == sorted(ids)


def test_contacts_sharing_the_cursors_millisecond_are_walked_by_id_without_asking_twice(
    hs: HubSpotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 399 contacts on one millisecond, read from that moment: the first page is all one stamp, so the rest
    # are walked by id (200, then the 199 after the 200th id), then the read moves one millisecond on
    moment = hs.now() - timedelta(days=1)
    ids = hs.sb.state.bulk_add_contacts(
        [(f"t{i}@example.com", {"hubspotscore": 70, "lastmodifieddate": moment}) for i in range(399)]
    )
    conn = hs.connector()
    bodies = _spy(conn, monkeypatch)

    found = [r.person.ref.id for r in conn.read_segment(SCORED, since=Watermark(moment, ""))]

    assert sorted(found) == sorted(ids)
    assert len(bodies) == 4
    ordered = sorted(ids, key=int)
    beyond = [f for f in bodies[2]["filterGroups"][0]["filters"] if f["propertyName"] == "hs_object_id"]
    assert beyond == [{"propertyName": "hs_object_id", "operator": "GT", "value": ordered[199]}]


def test_a_read_with_only_an_end_asks_for_contacts_modified_up_to_it(
    hs: HubSpotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, start = _seed(hs, 10)
    conn = hs.connector()
    bodies = _spy(conn, monkeypatch)
    until = start + timedelta(seconds=4)

    found = [r.person.ref.id for r in conn.read_segment(SCORED, until=until)]

    assert sorted(found) == sorted(ids[:5])
    window = [f for f in bodies[0]["filterGroups"][0]["filters"] if f["propertyName"] == "lastmodifieddate"]
    assert window == [{"propertyName": "lastmodifieddate", "operator": "LTE", "value": _ms(until)}]
