"""The segment language as an admin writes it and the reference evaluator reads it: windows in hours,
days and weeks up to the limit, dates as YAML writes them, people with no value, and the messages and
lines a refused condition is reported at."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.errors import ConfigError
from campaign_bridge.mapping.segment import SegmentError, evaluate, parse_segment

NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)


def _picks(raw: dict[str, Any], value: Any) -> bool:
    return evaluate(parse_segment(raw), {"last_activity_at": value}, NOW)


@pytest.mark.parametrize(
    ("window", "inside", "outside"),
    [
        ("12h", NOW - timedelta(hours=11), NOW - timedelta(hours=13)),
        ("2w", NOW - timedelta(days=13), NOW - timedelta(days=15)),
        ("30d", NOW - timedelta(days=29), NOW - timedelta(days=31)),
        ("0000000030d", NOW - timedelta(days=29), NOW - timedelta(days=31)),  # leading zeros are just zeros
        ("3650d", NOW - timedelta(days=3649), NOW - timedelta(days=3651)),  # the longest window there is
    ],
)
def test_a_window_in_hours_days_or_weeks_picks_who_it_says(window: str, inside: datetime, outside: datetime) -> None:
    assert _picks({"field": "last_activity_at", "within": window}, inside)
    assert not _picks({"field": "last_activity_at", "within": window}, outside)
    assert _picks({"field": "last_activity_at", "not_within": window}, outside)


@pytest.mark.parametrize(
    "value",
    [date(2026, 1, 15), "2026-01-15", "2026-01-15T09:00:00Z", "2026-01-15T09:00:00+00:00", datetime(2026, 1, 15, 9)],
)
def test_a_stamp_written_as_a_date_or_iso_text_is_read_as_that_moment(value: Any) -> None:
    assert _picks({"field": "last_activity_at", "within": "7d"}, value)
    assert not _picks({"field": "last_activity_at", "within": "4d"}, value)


@pytest.mark.parametrize("value", [None, ""])
def test_a_person_with_no_stamp_is_outside_every_window(value: Any) -> None:
    assert not _picks({"field": "last_activity_at", "within": "3650d"}, value)
    assert _picks({"field": "last_activity_at", "not_within": "1h"}, value)


def test_a_date_comparison_reads_dates_written_either_way() -> None:
    segment = parse_segment({"field": "created_at", "gte": "2026-01-10"})
    assert evaluate(segment, {"created_at": date(2026, 1, 10)}, NOW)
    assert evaluate(segment, {"created_at": "2026-01-12"}, NOW)
    assert not evaluate(segment, {"created_at": date(2026, 1, 9)}, NOW)


@pytest.mark.parametrize(
    ("window", "says"),
    [
        ("soon", "'soon' is not a duration; write e.g. 30d, 12h or 2w"),
        ("3651d", "a within/not_within window is longer than 3650d"),
        ("1000000000h", "a within/not_within window is longer than 3650d"),
        ("0h", "a window of 0h matches nobody (within) or everybody (not_within); the shortest is 1h"),
    ],
)
def test_a_window_out_of_range_is_refused_with_the_reason(window: str, says: str) -> None:
    with pytest.raises(SegmentError) as refused:
        parse_segment({"field": "last_activity_at", "within": window})
    assert str(refused.value) == f"segment.within: {says}"


FILE = """\
client: x
connections:
  crm: {type: memory-crm}
  hs: {type: hubspot, auth: {method: private_app, token: "${HS_TOKEN}"}}
rules:
  - name: a
    from:
      connection: hs
      segment:
        any:
          - {field: opportunity_stage, eq: Won}
          - not:
              all:
                - {field: country, eq: France}
                - {field: last_purchase_at, within: 30d}
    to: {connection: crm, campaign: C, status: Sent}
"""


def test_a_field_the_source_cannot_filter_on_is_reported_at_its_own_line_however_deep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HS_TOKEN", "pat-test")
    with pytest.raises(ConfigError) as refused:
        load_config_text(FILE, "c.yaml")
    lines = [str(p) for p in refused.value.problems]
    assert [line.split(": ", 1)[0] for line in lines] == ["c.yaml:11", "c.yaml:15"]
    assert "hubspot cannot filter people on opportunity_stage" in lines[0]
    assert "hubspot cannot filter people on last_purchase_at" in lines[1]


@pytest.mark.parametrize(
    ("raw", "person", "picked"),
    [
        ({"field": "score", "lte": 50}, {"score": 50}, True),
        ({"field": "score", "lt": 50}, {"score": 50}, False),
        ({"field": "score", "gt": 50}, {"score": 50}, False),
        ({"field": "score", "gte": 50}, {"score": 50}, True),
        ({"field": "score", "gte": 50}, {"score": "high"}, False),  # a value that cannot be compared
        ({"field": "score", "lt": 50}, {"score": "high"}, False),
        ({"field": "company", "in": ["Acme Inc", "Globex"]}, {"company": "Acme"}, False),  # whole names only
        ({"field": "company", "in": ["Acme Inc", "Globex"]}, {"company": "GLOBEX"}, True),
        ({"field": "company", "exists": True}, {"company": ""}, False),  # an empty text is no value
        ({"field": "company", "exists": False}, {"company": ""}, True),
        ({"field": "created_at", "in": ["2026-01-10", "2026-01-12"]}, {"created_at": "2026-01-12"}, True),
        ({"field": "created_at", "in": ["2026-01-10", "2026-01-12"]}, {"created_at": date(2026, 1, 11)}, False),
        ({"field": "created_at", "eq": "2026-01-12T00:00:00"}, {"created_at": "2026-01-12T00:00:00"}, True),
        (
            {"any": [{"field": "last_activity_at", "within": "7d"}, {"field": "score", "gte": 90}]},
            {"last_activity_at": NOW - timedelta(days=2), "score": 10},
            True,
        ),
    ],
)
def test_the_reference_evaluator_compares_as_the_language_says(
    raw: dict[str, Any], person: dict[str, Any], picked: bool
) -> None:
    assert evaluate(parse_segment(raw), person, NOW) is picked


@pytest.mark.parametrize(
    ("stamp", "picked"),
    [
        (datetime(2026, 1, 12, 8, 30, tzinfo=UTC), True),  # a system's stamped moment (with its zone)
        ("2026-01-12T08:30:00Z", True),
        (datetime(2026, 1, 9, 23, 59, tzinfo=UTC), False),
    ],
)
def test_a_date_written_in_the_rule_compares_with_a_stamped_moment_as_utc(stamp: Any, picked: bool) -> None:
    # "created on or after 2026-01-10": the rule's date is midnight UTC, as Salesforce's and HubSpot's
    # translations read it; the reference evaluator used to find no one (a moment with a zone and one
    # without do not compare).
    segment = parse_segment({"field": "created_at", "gte": "2026-01-10"})
    assert evaluate(segment, {"created_at": stamp}, NOW) is picked


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("score above 50", "segment: a segment is a mapping such as {field: score, gte: 50}"),
        ({"field": "hard_bounced", "eq": "maybe"}, "segment.eq: expected true or false, got 'maybe'"),
        ({"field": "company", "eq": ["Acme"]}, "segment.eq: expected a text value, got ['Acme']"),
        ({"field": "company", "eq": True}, "segment.eq: expected a text value, got True"),
    ],
)
def test_a_value_the_field_cannot_hold_is_refused_saying_where_and_what(raw: Any, says: str) -> None:
    with pytest.raises(SegmentError) as refused:
        parse_segment(raw)
    assert str(refused.value) == says
    assert refused.value.where == (() if isinstance(raw, str) else ("eq",))


def test_a_moment_with_its_own_zone_keeps_it() -> None:
    segment = parse_segment({"field": "created_at", "gte": "2026-01-12T05:00:00Z"})
    assert not evaluate(segment, {"created_at": "2026-01-12T08:30:00+05:00"}, NOW)  # 03:30 UTC
    assert evaluate(segment, {"created_at": "2026-01-12T08:30:00-05:00"}, NOW)  # 13:30 UTC


@pytest.mark.parametrize(
    ("raw", "says", "where"),
    [
        (
            {"all": [{"field": "score", "gte": 1}], "field": "score"},
            "segment: 'all' stands alone; nest other conditions inside it",
            (),
        ),
        (
            {"any": [{"field": "score", "gte": 1}, "x"]},
            "segment.any[1]: a segment is a mapping such as {field: score, gte: 50}",
            ("any", 1),
        ),
        (
            {"not": {"field": "score", "gte": 1}, "any": []},
            "segment: 'any' stands alone; nest other conditions inside it",
            (),
        ),
    ],
)
def test_a_malformed_segment_is_refused_at_its_path(raw: Any, says: str, where: tuple[object, ...]) -> None:
    with pytest.raises(SegmentError) as refused:
        parse_segment(raw)
    assert (str(refused.value), refused.value.where) == (says, where)
