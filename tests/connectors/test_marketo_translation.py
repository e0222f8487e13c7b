"""Marketo segments over HTTP against the sandbox: who a segment selects, read through the connector
(an activity window drives the read, profile conditions are evaluated on the leads found, other windows
are exact), and the segments Marketo cannot select refused with what to do. Unit-level, so mutation runs
reach ``marketo/segments.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import parse_segment
from tests.contract.harness_marketo import MarketoHarness

DAY = 86400.0
VISIT, FORM, CLICK_LINK, OPEN, CLICK = 1, 2, 3, 10, 11


@pytest.fixture
def harness() -> Iterator[MarketoHarness]:
    h = MarketoHarness()
    yield h
    h.close()


def _lead(harness: MarketoHarness, email: str, **fields: Any) -> int:
    return harness.sb.state.add_lead(email, **fields)


def _did(harness: MarketoHarness, lead: int, type_id: int, days_ago: float, primary: str = "") -> None:
    harness.sb.state.log_activity(lead, type_id, primary, at=harness.wall() - days_ago * DAY)


def _selected(harness: MarketoHarness, segment: dict[str, Any]) -> list[str]:
    conn = harness.connector()
    return sorted(m.person.email or "" for m in conn.read_segment(parse_segment(segment)))


def test_clicked_an_email_within_the_window_selects_those_clickers(harness: MarketoHarness) -> None:
    harness.wall.advance(100 * DAY)
    recent, old, opener = (_lead(harness, f"{n}@example.com") for n in ("recent", "old", "opener"))
    _did(harness, recent, CLICK, 2)
    _did(harness, old, CLICK, 40)
    _did(harness, opener, OPEN, 1)
    assert _selected(harness, {"field": "last_email_click_at", "within": "30d"}) == ["recent@example.com"]
    assert _selected(harness, {"field": "last_email_open_at", "within": "30d"}) == ["opener@example.com"]
    # any activity: a click, an open, a visit, a form, a link
    assert _selected(harness, {"field": "last_activity_at", "within": "30d"}) == [
        "opener@example.com",
        "recent@example.com",
    ]


def test_a_profile_condition_narrows_the_activity_driver(harness: MarketoHarness) -> None:
    harness.wall.advance(100 * DAY)
    hot = _lead(harness, "hot@example.com", leadScore=80, company="Acme")
    cold = _lead(harness, "cold@example.com", leadScore=10, company="Acme")
    _did(harness, hot, FORM, 3, "Webinar signup")
    _did(harness, cold, FORM, 3, "Webinar signup")
    segment = {"all": [{"field": "last_form_submitted_at", "within": "7d"}, {"field": "score", "gte": 50}]}
    assert _selected(harness, segment) == ["hot@example.com"]
    named = {
        "all": [
            {"field": "last_form_submitted_at", "within": "7d"},
            {"field": "last_form_submitted", "eq": "Webinar signup"},
        ]
    }
    assert _selected(harness, named) == ["cold@example.com", "hot@example.com"]


def test_a_second_window_is_exact_and_the_latest_activity_counts(harness: MarketoHarness) -> None:
    harness.wall.advance(100 * DAY)
    both, stale = (_lead(harness, f"{n}@example.com") for n in ("both", "stale"))
    _did(harness, both, VISIT, 20)
    _did(harness, both, CLICK, 1)
    _did(harness, stale, CLICK, 25)
    _did(harness, stale, CLICK, 5)
    _did(harness, stale, VISIT, 20)
    _did(harness, stale, VISIT, 2)
    # visited within 30 days but not in the last 10: the latest visit decides
    segment = {
        "all": [
            {"field": "last_page_visited_at", "within": "30d"},
            {"field": "last_page_visited_at", "not_within": "10d"},
        ]
    }
    assert _selected(harness, segment) == ["both@example.com"]
    either = {
        "any": [{"field": "last_email_click_at", "within": "3d"}, {"field": "last_page_visited_at", "within": "3d"}]
    }
    assert _selected(harness, either) == ["both@example.com", "stale@example.com"]


def test_a_deleted_lead_with_activity_is_not_selected(harness: MarketoHarness) -> None:
    harness.wall.advance(100 * DAY)
    kept, gone = (_lead(harness, f"{n}@example.com") for n in ("kept", "gone"))
    _did(harness, kept, CLICK, 1)
    _did(harness, gone, CLICK, 1)
    harness.sb.state.delete_lead(gone)
    assert _selected(harness, {"field": "last_email_click_at", "within": "7d"}) == ["kept@example.com"]


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ({"field": "score", "gte": 50}, "smart list"),
        ({"field": "last_email_click_at", "not_within": "60d"}, "smart list"),
        (
            {"any": [{"field": "last_email_click_at", "within": "7d"}, {"field": "score", "gte": 50}]},
            "smart list",
        ),
        ({"field": "last_email_click_at", "gte": "2026-01-01"}, "last_email_click_at can only be used with within"),
    ],
)
def test_a_segment_marketo_cannot_select_is_refused_with_what_to_do(
    harness: MarketoHarness, segment: dict[str, Any], message: str
) -> None:
    with pytest.raises(FatalError, match=message):
        _selected(harness, segment)
    assert harness.sb.server.log == []
