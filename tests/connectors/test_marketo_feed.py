"""Marketo's activity feed as a change feed: a static list read since a watermark (Add to List / Remove from
List), an activity segment read for its changes, what each costs when nothing happened, and the sandbox
refusing what the real API refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import parse_segment
from campaign_bridge.sandbox.marketo.state import CLICK_EMAIL, OPEN_EMAIL
from tests.contract.harness_marketo import MarketoHarness

DAY = 86_400.0
CLICKED_30D = {"field": "last_email_click_at", "within": "30d"}


@pytest.fixture
def harness() -> Iterator[MarketoHarness]:
    h = MarketoHarness()
    yield h
    h.close()


def _feed_calls(h: MarketoHarness) -> int:
    return h.sb.server.calls(r"^/rest/v1/activities")


def test_a_static_list_read_since_a_watermark_gives_its_adds_and_removals_only(harness: MarketoHarness) -> None:
    h = harness
    cid, other = h.add_container("Nurture"), h.add_container("Other")
    stay, leave, back = h.add_person("stay@x.example"), h.add_person("leave@x.example"), h.add_person("b@x.example")
    for ref in (stay, leave, back):
        h.add_member(cid, ref)
    conn = h.connector()
    container = conn.find_container("list", "Nurture")
    assert conn.reads_since(container)
    h.tick(60)
    mark = Watermark(h.now())
    h.tick(60)
    new = h.add_person("new@x.example")
    h.add_member(cid, new)
    h.remove_member(cid, leave)
    h.add_member(other, stay)  # another list's change: in the feed, not this list's
    h.remove_member(cid, back)
    h.tick(1)
    h.add_member(cid, back)  # removed then added again: the last action wins
    h.sb.server.reset_log()
    rows = list(conn.read_members(container, since=mark, until=h.now()))
    assert [(r.person.ref.id, r.person.email, r.removed) for r in rows] == [
        (leave.id, "leave@x.example", True),  # at the same moment as the next: by lead id
        (new.id, "new@x.example", False),
        (back.id, "b@x.example", False),
    ]
    assert [r.modified_at for r in rows] == sorted(r.modified_at for r in rows if r.modified_at is not None)
    assert rows[-1].modified_at == h.now()
    assert _feed_calls(h) == 2  # the token and one page
    assert h.sb.server.calls(r"^/rest/v1/lists/") == 0  # the list itself is never read


def test_an_idle_static_list_costs_the_token_and_one_empty_page(harness: MarketoHarness) -> None:
    h = harness
    cid = h.add_container("Nurture")
    for i in range(5):
        h.add_member(cid, h.add_person(f"p{i}@x.example"))
    conn = h.connector()
    container = conn.find_container("list", "Nurture")
    h.tick(600)
    h.sb.server.reset_log()
    assert list(conn.read_members(container, since=Watermark(h.now() - timedelta(minutes=5)), until=h.now())) == []
    assert [r.path for r in h.sb.server.log if not r.path.startswith("/identity")] == [
        "/rest/v1/activities/pagingtoken.json",
        "/rest/v1/activities.json",
    ]


def test_smart_lists_and_programs_have_no_feed_and_are_read_in_full(harness: MarketoHarness) -> None:
    h = harness
    smart = h.add_readonly_container("Scored")
    program = h.sb.state.add_program("Webinar", channel="Webinar")
    lead = h.add_person("a@x.example")
    h.sb.state.set_member_status(program, int(lead.id), "Registered")
    conn = h.connector()
    found = conn.find_container("program", "Webinar")
    assert not conn.reads_since(found)
    assert not conn.reads_since(conn.find_container("list", smart))
    rows = list(conn.read_members(found, since=Watermark(h.now()), until=h.now()))
    assert [(r.person.ref.id, r.status) for r in rows] == [(lead.id, "Registered")]  # in full, not nothing


def test_only_a_single_activity_window_lapses(harness: MarketoHarness) -> None:
    conn = harness.connector()
    assert conn.segment_lapse(parse_segment(CLICKED_30D)) == timedelta(days=30)
    assert conn.segment_lapse(parse_segment({"field": "last_email_open_at", "within": "7d"})) == timedelta(days=7)
    scored = {"all": [CLICKED_30D, {"field": "score", "gte": 50}]}
    assert conn.segment_lapse(parse_segment(scored)) is None  # a score can drop without any activity
    assert conn.segment_lapse(parse_segment({"field": "last_email_click_at", "not_within": "30d"})) is None


def test_a_full_segment_read_stamps_each_member_with_its_newest_click(harness: MarketoHarness) -> None:
    h = harness
    ada = h.add_person("ada@x.example")
    now = h.wall()
    h.sb.state.log_activity(int(ada.id), CLICK_EMAIL, "News", at=now - 20 * DAY)
    h.sb.state.log_activity(int(ada.id), CLICK_EMAIL, "News", at=now - 2 * DAY)
    h.sb.state.log_activity(int(ada.id), OPEN_EMAIL, "News", at=now - DAY)  # not a click
    conn = h.connector()
    rows = list(conn.read_segment(parse_segment(CLICKED_30D)))
    assert [(r.person.ref.id, r.modified_at) for r in rows] == [(ada.id, h.now() - timedelta(days=2))]


def test_a_segment_read_since_a_watermark_gives_new_clickers_and_those_out_of_the_window(
    harness: MarketoHarness,
) -> None:
    h = harness
    fresh, stale = h.add_person("fresh@x.example"), h.add_person("stale@x.example")
    now = h.wall()
    h.sb.state.log_activity(int(stale.id), CLICK_EMAIL, "News", at=now - 31 * DAY)
    h.sb.state.log_activity(int(fresh.id), CLICK_EMAIL, "News", at=now - 60)
    conn = h.connector()
    segment = parse_segment(CLICKED_30D)
    since = Watermark(h.now() - timedelta(days=40))  # a watermark from before the window: both are read
    h.sb.server.reset_log()
    rows = list(conn.read_segment(segment, since=since, until=h.now()))
    assert [(r.person.email, r.removed, r.modified_at) for r in rows] == [
        ("stale@x.example", True, h.now() - timedelta(days=31)),
        ("fresh@x.example", False, h.now() - timedelta(seconds=60)),
    ]
    assert _feed_calls(h) == 2
    assert h.sb.server.calls(r"^/rest/v1/leads\.json") == 1  # both leads by id in one call
    h.tick(1800)  # within the token's hour: no renewal in the log
    h.sb.server.reset_log()
    assert list(conn.read_segment(segment, since=Watermark(h.now() - timedelta(minutes=5)), until=h.now())) == []
    assert [r.path for r in h.sb.server.log if not r.path.startswith("/identity")] == [
        "/rest/v1/activities/pagingtoken.json",
        "/rest/v1/activities.json",
    ]


def test_the_sandbox_refuses_an_activity_type_the_instance_lacks_and_a_missing_token(harness: MarketoHarness) -> None:
    conn = harness.connector()
    token = conn.client.call(
        "GET", "/rest/v1/activities/pagingtoken.json", params={"sinceDatetime": "2024-05-01T00:00:00Z"}
    )["nextPageToken"]
    with pytest.raises(FatalError, match="Invalid activityTypeIds: 99999"):
        conn.client.call(
            "GET", "/rest/v1/activities.json", params={"nextPageToken": token, "activityTypeIds": "24,99999"}
        )
    with pytest.raises(FatalError, match="nextPageToken is required"):
        conn.client.call("GET", "/rest/v1/activities.json", params={"activityTypeIds": "24"})
    types = {t["id"]: t["name"] for t in conn.client.call("GET", "/rest/v1/activities/types.json")["result"]}
    assert (types[24], types[25]) == ("Add to List", "Remove from List")


def _clickers(h: MarketoHarness, count: int) -> dict[str, float]:
    """``count`` leads, each with one click spread over the last 29 days, one old click (40 days) besides."""
    now, clicks = h.wall(), {}
    for i in range(count):
        ref = h.add_person(f"c{i:04d}@x.example")
        at = now - DAY - (i % 28) * DAY - i
        h.sb.state.log_activity(int(ref.id), CLICK_EMAIL, "News", at=at)
        clicks[ref.id] = at
    old = h.add_person("old@x.example")
    h.sb.state.log_activity(int(old.id), CLICK_EMAIL, "News", at=now - 40 * DAY)
    return clicks


def test_a_segment_window_of_many_pages_is_read_by_one_bulk_activity_extract(harness: MarketoHarness) -> None:
    h = harness
    clicks = _clickers(h, 700)  # three pages of the feed
    conn = h.connector()
    h.sb.server.reset_log()
    rows = list(conn.read_segment(parse_segment(CLICKED_30D)))
    assert sorted(r.person.ref.id for r in rows) == sorted(clicks)
    assert {r.person.ref.id: r.modified_at.timestamp() for r in rows if r.modified_at} == clicks
    # The token and the first page show there is more: one extract (4 calls) instead of two more pages...
    assert _feed_calls(h) == 2
    assert h.sb.server.calls(r"^/bulk/v1/activities/export") == 4
    # ...and the window's 700 clickers by id, 300 at a time.
    assert h.sb.server.calls(r"^/rest/v1/leads\.json") == 3


def test_with_the_export_allowance_spent_a_segment_window_is_read_page_by_page(harness: MarketoHarness) -> None:
    h = harness
    clicks = _clickers(h, 700)
    h.sb.app.export_allowance[0] = 0
    conn = h.connector()
    h.sb.server.reset_log()
    rows = list(conn.read_segment(parse_segment(CLICKED_30D)))
    assert sorted(r.person.ref.id for r in rows) == sorted(clicks)
    assert _feed_calls(h) == 4  # the token and three pages
