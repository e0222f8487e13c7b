"""Account Engagement segments over HTTP against the sandbox: who a segment selects, read through the
connector (server filters on email and created_at, score and activity windows evaluated here, e-mail
activities only when they are on an e-mail). Unit-level, so mutation runs reach ``pardot/segments.py``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from campaign_bridge.mapping.segment import parse_segment
from tests.contract.harness_pardot import PardotHarness


@pytest.fixture
def harness() -> Iterator[PardotHarness]:
    h = PardotHarness()
    yield h
    h.close()


def _selected(harness: PardotHarness, segment: dict[str, Any]) -> list[str]:
    conn = harness.connector()
    return sorted(m.person.email or "" for m in conn.read_segment(parse_segment(segment)))


def test_a_score_threshold_selects_those_at_or_above_it(harness: PardotHarness) -> None:
    state = harness.sb.state
    state.add_prospect("hot@example.com", score=120)
    state.add_prospect("edge@example.com", score=100)
    state.add_prospect("cold@example.com", score=99)
    assert _selected(harness, {"field": "score", "gte": 100}) == ["edge@example.com", "hot@example.com"]


def test_an_email_segment_selects_that_prospect_only(harness: PardotHarness) -> None:
    state = harness.sb.state
    state.add_prospect("ann@example.com")
    state.add_prospect("bob@example.com")
    assert _selected(harness, {"field": "email", "eq": "bob@example.com"}) == ["bob@example.com"]


def test_created_within_a_window_keeps_the_recent_and_its_edge(harness: PardotHarness) -> None:
    state = harness.sb.state
    state.add_prospect("old@example.com")
    state.add_prospect("old-acme@example.com", company="Acme")
    harness.wall.tick(10 * 86400)
    state.add_prospect("edge@example.com")
    harness.wall.tick(86400)
    state.add_prospect("new@example.com")
    harness.wall.tick(86400)
    # 2 days back reaches "edge" exactly, not "old"
    assert _selected(harness, {"field": "created_at", "within": "2d"}) == ["edge@example.com", "new@example.com"]
    assert _selected(harness, {"all": [{"field": "created_at", "within": "2d"}, {"field": "score", "gte": 0}]}) == [
        "edge@example.com",
        "new@example.com",
    ]
    # under an ``any`` the window narrows nothing on the server: an old prospect may match the other branch
    either = {"any": [{"field": "created_at", "within": "2d"}, {"field": "company", "eq": "Acme"}]}
    assert _selected(harness, either) == ["edge@example.com", "new@example.com", "old-acme@example.com"]


def test_active_in_the_window_uses_the_last_activity(harness: PardotHarness) -> None:
    state = harness.sb.state
    now = harness.wall()
    active = state.add_prospect("active@example.com")
    idle = state.add_prospect("idle@example.com")
    state.add_activity(active, 1, now - timedelta(days=3), email_id=7)
    state.add_activity(idle, 1, now - timedelta(days=40), email_id=7)
    assert _selected(harness, {"field": "last_activity_at", "within": "30d"}) == ["active@example.com"]


def test_an_email_click_counts_only_on_an_email_and_only_in_the_window(harness: PardotHarness) -> None:
    state = harness.sb.state
    now = harness.wall()
    clicked = state.add_prospect("clicked@example.com")
    page = state.add_prospect("page@example.com")
    late = state.add_prospect("late@example.com")
    opened = state.add_prospect("opened@example.com")
    state.add_activity(clicked, 1, now - timedelta(days=2), email_id=7)
    state.add_activity(page, 1, now - timedelta(days=2))  # a click on a page, not on an e-mail
    state.add_activity(late, 1, now - timedelta(days=20), email_id=7)
    state.add_activity(late, 1, now - timedelta(days=30), email_id=7)
    state.add_activity(opened, 11, now - timedelta(days=1), email_id=7)
    assert _selected(harness, {"field": "last_email_click_at", "within": "7d"}) == ["clicked@example.com"]
    # the latest of two clicks is the one compared (under an ``any`` every click is read, not only the window's)
    either = {"any": [{"field": "last_email_click_at", "within": "25d"}, {"field": "email", "eq": "no@example.com"}]}
    assert _selected(harness, either) == [
        "clicked@example.com",
        "late@example.com",
    ]
    assert _selected(harness, {"field": "last_email_open_at", "within": "7d"}) == ["opened@example.com"]


def test_a_form_submission_counts_without_an_email(harness: PardotHarness) -> None:
    state = harness.sb.state
    now = harness.wall()
    filled = state.add_prospect("filled@example.com")
    state.add_prospect("none@example.com")
    state.add_activity(filled, 4, now - timedelta(days=1), form_id=3)
    assert _selected(harness, {"field": "last_form_submitted_at", "within": "7d"}) == ["filled@example.com"]
    assert _selected(harness, {"not": {"field": "last_form_submitted_at", "within": "7d"}}) == ["none@example.com"]


def test_names_and_company_are_matched_in_any_of(harness: PardotHarness) -> None:
    state = harness.sb.state
    state.add_prospect("a@example.com", company="Acme", first_name="Ann")
    state.add_prospect("b@example.com", company="Other", first_name="Bea")
    state.add_prospect("c@example.com", company="Other", first_name="Cy", last_name="Smith")
    segment = {"any": [{"field": "company", "eq": "Acme"}, {"field": "last_name", "eq": "Smith"}]}
    assert _selected(harness, segment) == ["a@example.com", "c@example.com"]
