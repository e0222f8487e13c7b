"""Account Engagement segments: the v5 filters a segment sends (the prospect query's ``email`` and
``createdAtAfterOrEqualTo``, the visitor-activity ``type`` and window), and who is selected from what v5
answers, with a recording reader standing in for v5 so every call it receives is seen
(pardot/segments.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_bridge.connectors.pardot.segments import read_segment, server_filters
from campaign_bridge.mapping.model import MemberRecord, PersonRecord, RecordRef
from campaign_bridge.mapping.segment import parse_segment

NOW = datetime(2026, 3, 10, 12, 30, 45, 250000, tzinfo=UTC)


def _ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat()


class RecordingReader:
    """What v5 answers, and the calls it received."""

    def __init__(self, prospects: list[dict[str, Any]], activities: list[dict[str, Any]] | None = None) -> None:
        self.rows, self.activity_rows = prospects, activities or []
        self.calls: list[tuple[Any, ...]] = []

    def prospects(self, fields: list[str], params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        self.calls.append(("prospects", fields, dict(params or {})))
        yield from self.rows

    def activities(self, types: list[int], since: datetime | None) -> Iterator[dict[str, Any]]:
        self.calls.append(("activities", types, since))
        yield from (row for row in self.activity_rows if row["type"] in types)


def _prospect(pid: int, email: str, **fields: Any) -> dict[str, Any]:
    return {"id": pid, "email": email, "salesforceId": None, "updatedAt": "2026-03-01T08:00:00Z", **fields}


def _selected(reader: RecordingReader, segment: dict[str, Any]) -> list[str]:
    return sorted(m.person.email or "" for m in read_segment(reader, "pd", parse_segment(segment), NOW))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("segment", "params"),
    [
        ({"field": "email", "eq": "ann@x.com"}, {"email": "ann@x.com"}),
        ({"field": "created_at", "within": "7d"}, {"createdAtAfterOrEqualTo": "2026-03-03T12:30:45+00:00"}),
        ({"field": "created_at", "gte": "2026-01-10"}, {"createdAtAfterOrEqualTo": "2026-01-10T00:00:00+00:00"}),
        (
            {"field": "created_at", "gt": "2026-01-10T09:15:00+02:00"},
            {"createdAtAfterOrEqualTo": "2026-01-10T07:15:00+00:00"},
        ),
        (
            {"all": [{"field": "email", "eq": "ann@x.com"}, {"field": "created_at", "within": "1d"}]},
            {"email": "ann@x.com", "createdAtAfterOrEqualTo": "2026-03-09T12:30:45+00:00"},
        ),
        # anything that does not bind every match is evaluated here instead
        ({"field": "email", "ne": "ann@x.com"}, {}),
        ({"field": "created_at", "lt": "2026-01-10"}, {}),
        ({"field": "created_at", "not_within": "7d"}, {}),
        ({"field": "last_activity_at", "within": "7d"}, {}),
        ({"any": [{"field": "email", "eq": "ann@x.com"}, {"field": "score", "gte": 5}]}, {}),
        ({"not": {"field": "email", "eq": "ann@x.com"}}, {}),
        ({"all": [{"any": [{"field": "email", "eq": "ann@x.com"}]}]}, {}),
    ],
)
def test_the_prospect_query_is_narrowed_only_by_what_binds_every_match(
    segment: dict[str, Any], params: dict[str, str]
) -> None:
    assert server_filters(parse_segment(segment), NOW) == params


def test_the_prospect_query_asks_for_the_fields_the_segment_reads() -> None:
    reader = RecordingReader([])
    segment = {"all": [{"field": "score", "gte": 100}, {"field": "email", "eq": "a@x.com"}]}
    _selected(reader, segment)
    assert reader.calls == [
        ("prospects", ["email", "id", "salesforceId", "score", "updatedAt"], {"email": "a@x.com"}),
    ]
    reader = RecordingReader([])
    _selected(
        reader, {"any": [{"field": "grade", "in": ["A"]}, {"not": {"field": "last_activity_at", "within": "2d"}}]}
    )
    assert reader.calls == [("prospects", ["email", "grade", "id", "lastActivityAt", "salesforceId", "updatedAt"], {})]


def test_a_score_read_as_text_is_compared_as_a_number() -> None:
    reader = RecordingReader(
        [
            _prospect(1, "hot@x.com", score="120.5"),
            _prospect(2, "edge@x.com", score=100),
            _prospect(3, "cold@x.com", score="99"),
            _prospect(4, "none@x.com", score=""),
            _prospect(5, "null@x.com", score=None),
        ]
    )
    assert _selected(reader, {"field": "score", "gte": 100}) == ["edge@x.com", "hot@x.com"]
    assert _selected(reader, {"field": "score", "exists": False}) == ["none@x.com", "null@x.com"]


def test_created_and_last_activity_stamps_are_compared_as_moments() -> None:
    reader = RecordingReader(
        [
            _prospect(1, "new@x.com", createdAt=_ago(days=2), lastActivityAt=_ago(days=40)),
            _prospect(2, "old@x.com", createdAt=_ago(days=20), lastActivityAt=_ago(hours=3)),
            _prospect(3, "never@x.com", createdAt=None, lastActivityAt=None),
        ]
    )
    assert _selected(reader, {"field": "created_at", "within": "7d"}) == ["new@x.com"]
    assert _selected(reader, {"field": "last_activity_at", "within": "1d"}) == ["old@x.com"]
    assert _selected(reader, {"field": "last_activity_at", "not_within": "30d"}) == ["never@x.com", "new@x.com"]


def test_a_selected_prospect_is_its_record_with_its_stamp() -> None:
    row = _prospect(7, "ann@x.com", salesforceId="003ABC")
    (member,) = read_segment(RecordingReader([row]), "pd", parse_segment({"field": "email", "eq": "ann@x.com"}), NOW)  # type: ignore[arg-type]
    assert member == MemberRecord(
        PersonRecord(RecordRef("pd", "contact", "7"), "ann@x.com"),
        None,
        datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        False,
        "7",
    )


def _activity(pid: int | str, type_: int, at: str, email_id: int | None = 31) -> dict[str, Any]:
    return {"id": 1, "prospectId": pid, "type": type_, "emailId": email_id, "createdAt": at}


def test_activities_are_read_by_type_and_from_the_tightest_window() -> None:
    reader = RecordingReader([])
    segment = {
        "all": [
            {"field": "last_form_submitted_at", "within": "30d"},
            {"field": "last_email_click_at", "within": "7d"},
            {"field": "last_email_click_at", "within": "3d"},
            {"field": "last_email_click_at", "exists": True},
        ]
    }
    _selected(reader, segment)
    assert reader.calls[:2] == [
        ("activities", [1], NOW - timedelta(days=3)),
        ("activities", [4], NOW - timedelta(days=30)),
    ]
    reader = RecordingReader([])
    _selected(reader, {"any": [{"field": "last_email_open_at", "within": "7d"}, {"field": "score", "gte": 1}]})
    assert reader.calls[0] == ("activities", [11], None)  # an any does not bound the opens that matter
    reader = RecordingReader([])
    _selected(reader, {"all": [{"field": "last_email_open_at", "not_within": "7d"}]})
    assert reader.calls[0] == ("activities", [11], None)


def test_the_latest_click_on_an_email_decides_and_other_activity_does_not_count() -> None:
    prospects = [_prospect(i, f"p{i}@x.com") for i in range(1, 6)]
    activities = [
        _activity(1, 1, _ago(days=2)),  # p1: clicked two days ago
        _activity("2", 1, _ago(hours=6)),  # p2: latest click 6 hours ago (read first), an older one after
        _activity("2", 1, _ago(days=3)),
        _activity(3, 1, _ago(days=4)),  # p3: an older click first, then the latest, 5 hours ago
        _activity(3, 1, _ago(hours=5)),
        _activity(4, 1, _ago(days=2), email_id=None),  # p4: a click not on an e-mail (a page link)
        _activity(5, 1, "not a time"),  # p5: a stamp v5 could not give
        _activity(5, 11, _ago(days=2)),  # ... and an open, which is no click
    ]
    reader = RecordingReader(prospects, activities)
    # clicked in the last week, but not in the last day: the latest click counts
    segment = {
        "all": [
            {"field": "last_email_click_at", "within": "7d"},
            {"not": {"field": "last_email_click_at", "within": "1d"}},
        ]
    }
    assert _selected(reader, segment) == ["p1@x.com"]
    assert _selected(reader, {"field": "last_email_click_at", "within": "1d"}) == ["p2@x.com", "p3@x.com"]
    assert _selected(reader, {"field": "last_email_click_at", "exists": False}) == ["p4@x.com", "p5@x.com"]


def test_a_form_submission_counts_without_an_email() -> None:
    reader = RecordingReader(
        [_prospect(1, "a@x.com"), _prospect(2, "b@x.com")],
        [_activity(1, 4, _ago(days=1), email_id=None), _activity(2, 4, _ago(days=9), email_id=None)],
    )
    assert _selected(reader, {"field": "last_form_submitted_at", "within": "7d"}) == ["a@x.com"]
