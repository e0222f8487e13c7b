"""SOQL text: escaping, literals and the segment → WHERE translation (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaign_bridge.connectors.salesforce.segments import CONTACT_FIELDS, LEAD_FIELDS, SegmentTranslator
from campaign_bridge.connectors.salesforce.soql import (
    first_day_at_or_after,
    soql_datetime,
    soql_in,
    soql_like_contains,
    soql_quote,
)
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import parse_segment

NOW = datetime(2026, 3, 31, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("plain@example.com", "'plain@example.com'"),
        ("o'brien@example.com", "'o\\'brien@example.com'"),
        ("back\\slash", "'back\\\\slash'"),
        ("x' OR Email != '", "'x\\' OR Email != \\''"),
        ('say "hi"', "'say \\\"hi\\\"'"),
        ("line\nbreak\r\ttab\b\f", "'line\\nbreak\\r\\ttab\\b\\f'"),
        ("50%_off", "'50%_off'"),
    ],
)
def test_soql_quote_escapes_every_special_character(raw: str, quoted: str) -> None:
    assert soql_quote(raw) == quoted


def test_quoted_value_cannot_end_its_literal_early() -> None:
    hostile = "a\\' OR Name != '"
    literal = soql_quote(hostile)
    # Walk the literal as SOQL does: the only unescaped quote is the closing one.
    i, body = 1, []
    while literal[i] != "'":
        if literal[i] == "\\":
            body.append(literal[i + 1])
            i += 2
        else:
            body.append(literal[i])
            i += 1
    assert i == len(literal) - 1
    assert "".join(body) == hostile


def test_like_pattern_keeps_wildcards_literal() -> None:
    assert soql_like_contains("50%_off") == "'%50\\%\\_off%'"


def test_in_list_is_deduplicated_and_refuses_empty() -> None:
    assert soql_in(["a", "b", "a"]) == "('a', 'b')"
    with pytest.raises(ValueError, match="at least one"):
        soql_in([])


def test_datetime_literal_is_utc_and_rounds_the_right_way() -> None:
    moment = datetime(2026, 1, 5, 10, 0, 0, 250_000, tzinfo=UTC)
    assert soql_datetime(moment) == "2026-01-05T10:00:00Z"
    assert soql_datetime(moment, round_up=True) == "2026-01-05T10:00:01Z"
    assert soql_datetime(datetime(2026, 1, 5, 10, 0)) == "2026-01-05T10:00:00Z"


def test_date_window_agrees_with_a_datetime_window() -> None:
    assert str(first_day_at_or_after(datetime(2026, 3, 1, 10, 30, tzinfo=UTC))) == "2026-03-02"
    assert str(first_day_at_or_after(datetime(2026, 3, 1, tzinfo=UTC))) == "2026-03-01"


def _lead(raw: object) -> str | bool:
    return SegmentTranslator("Lead", LEAD_FIELDS, NOW).where(parse_segment(raw))


def _contact(raw: object, stages: dict[str, set[str]] | None = None) -> str | bool:
    def resolve(where: str) -> set[str]:
        assert stages is not None
        return stages[where]

    return SegmentTranslator("Contact", CONTACT_FIELDS, NOW, resolve).where(parse_segment(raw))


def test_segment_translation_per_object() -> None:
    seg = {"all": [{"field": "lead_status", "eq": "Working"}, {"field": "created_at", "within": "30d"}]}
    assert _lead(seg) == "(Status = 'Working' AND CreatedDate >= 2026-03-01T10:30:00Z)"
    assert _contact(seg) is False  # a contact has no lead status: never queried
    assert _contact({"not": {"field": "lead_status", "eq": "Working"}}) is True
    assert _contact({"field": "company", "contains": "ac'me"}) == "Account.Name LIKE '%ac\\'me%'"


def test_segment_windows_and_existence() -> None:
    start = (NOW - timedelta(days=60)).date() + timedelta(days=1)
    assert _lead({"field": "last_activity_at", "not_within": "60d"}) == (
        f"(LastActivityDate < {start} OR LastActivityDate = null)"
    )
    assert _lead({"field": "email", "exists": False}) == "Email = null"
    assert _lead({"any": [{"field": "owner", "in": ["005A", "005B"]}, {"not": {"field": "country", "eq": "FR"}}]}) == (
        "(OwnerId IN ('005A', '005B') OR (NOT Country = 'FR'))"
    )


def test_opportunity_stage_goes_through_contact_roles() -> None:
    stages = {"Opportunity.StageName = 'Closed Won'": {"003B", "003A"}}
    assert _contact({"field": "opportunity_stage", "eq": "Closed Won"}, stages) == "Id IN ('003A', '003B')"
    assert _contact({"field": "opportunity_stage", "ne": "Closed Won"}, stages) == "Id NOT IN ('003A', '003B')"
    assert (
        _contact({"field": "opportunity_stage", "eq": "Closed Won"}, {"Opportunity.StageName = 'Closed Won'": set()})
        is False
    )
    assert _lead({"field": "opportunity_stage", "eq": "Closed Won"}) is False


def test_unfilterable_fields_are_named_with_the_alternatives() -> None:
    with pytest.raises(
        FatalError, match=r"cannot filter people on hard_bounced, score; it can filter on: .*lead_status"
    ):
        _lead({"all": [{"field": "score", "gte": 50}, {"field": "hard_bounced", "eq": True}]})
