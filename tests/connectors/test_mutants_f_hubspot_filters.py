"""The filters HubSpot's contact search receives for each kind of condition, plain and under ``not``: the
query IS what the vendor sees, so each operator's spelling and value are asserted exactly, as the JSON body
carries them; and where HubSpot's limit on filters in all starts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from campaign_bridge.connectors.hubspot.search import filter_groups
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import parse_segment

NOW = datetime(2026, 3, 1, tzinfo=UTC)
BOUNCE = "hs_email_hard_bounce_reason_enum"  # HubSpot has no yes/no hard-bounce property: a reason, or none
MIDNIGHT_MS = str(int(datetime(2026, 1, 31, tzinfo=UTC).timestamp() * 1000))


def _one(prop: str, operator: str, **rest: Any) -> list[list[dict[str, Any]]]:
    return [[{"propertyName": prop, "operator": operator, **rest}]]


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ({"field": "hard_bounced", "eq": True}, _one(BOUNCE, "HAS_PROPERTY")),
        ({"field": "hard_bounced", "eq": False}, _one(BOUNCE, "NOT_HAS_PROPERTY")),
        ({"field": "hard_bounced", "ne": False}, _one(BOUNCE, "HAS_PROPERTY")),
        ({"not": {"field": "hard_bounced", "eq": True}}, _one(BOUNCE, "NOT_HAS_PROPERTY")),
        ({"not": {"field": "hard_bounced", "eq": False}}, _one(BOUNCE, "HAS_PROPERTY")),
        ({"field": "country", "exists": True}, _one("country", "HAS_PROPERTY")),
        ({"field": "country", "exists": False}, _one("country", "NOT_HAS_PROPERTY")),
        ({"not": {"field": "country", "exists": True}}, _one("country", "NOT_HAS_PROPERTY")),
        ({"not": {"field": "country", "exists": False}}, _one("country", "HAS_PROPERTY")),
        ({"field": "country", "in": ["FR", "DE"]}, _one("country", "IN", values=["FR", "DE"])),
        ({"field": "country", "not_in": ["FR"]}, _one("country", "NOT_IN", values=["FR"])),
        ({"not": {"field": "country", "in": ["FR"]}}, _one("country", "NOT_IN", values=["FR"])),
        ({"not": {"field": "country", "not_in": ["FR"]}}, _one("country", "IN", values=["FR"])),
        ({"field": "company", "contains": "acme"}, _one("company", "CONTAINS_TOKEN", value="*acme*")),
        ({"not": {"field": "company", "contains": "acme"}}, _one("company", "NOT_CONTAINS_TOKEN", value="*acme*")),
        ({"field": "created_at", "in": ["2026-01-31"]}, _one("createdate", "IN", values=[MIDNIGHT_MS])),
        ({"field": "created_at", "gte": "2026-01-31"}, _one("createdate", "GTE", value=MIDNIGHT_MS)),
        ({"field": "score", "gte": 50}, _one("hubspotscore", "GTE", value="50")),
        ({"field": "country", "eq": "FR"}, _one("country", "EQ", value="FR")),
        ({"not": {"field": "country", "eq": "FR"}}, _one("country", "NEQ", value="FR")),
    ],
)
def test_each_condition_reaches_hubspot_as_its_filter(segment: dict[str, Any], expected: object) -> None:
    assert _sent(segment) == expected


def _sent(segment: dict[str, Any]) -> Any:
    """The filter groups as the search request's JSON body carries them."""
    return json.loads(json.dumps(filter_groups(parse_segment(segment), NOW)))


def _branches(count: int, width: int) -> dict[str, Any]:
    """``any`` of ``count`` branches, each ``all`` of ``width`` distinct conditions (at most five)."""
    conditions = [
        lambda k: {"field": "score", "gte": k},
        lambda k: {"field": "soft_bounce_count", "lte": k},
        lambda k: {"field": "country", "eq": f"c{k}"},
        lambda k: {"field": "company", "eq": f"c{k}"},
        lambda k: {"field": "last_name", "eq": f"c{k}"},
    ]
    return {"any": [{"all": [make(k) for make in conditions[:width]]} for k in range(count)]}


def test_eighteen_filters_in_all_with_the_read_cursor_s_are_within_hubspot_s_limit() -> None:
    groups = _sent(_branches(3, 5))  # 3 groups of 5, and the cursor's filter in each: 18
    assert [len(g) for g in groups] == [5, 5, 5]


def test_twenty_filters_in_all_are_refused_naming_the_limit() -> None:
    with pytest.raises(FatalError) as refused:
        _sent(_branches(4, 4))  # 4 groups of 4, and the cursor's filter in each: 20
    assert str(refused.value).startswith(
        "this segment needs 4 OR-ed groups, up to 4 filters in one, 16 in all as a HubSpot search; HubSpot allows "
        "at most 5 filter groups, 6 filters per group and 18 filters in all"
    )


@pytest.mark.parametrize(
    "segment", [{"field": "hard_bounced", "exists": True}, {"field": "hard_bounced", "in": [True]}]
)
def test_a_hard_bounce_asked_otherwise_than_as_true_or_false_is_refused_saying_how(segment: dict[str, Any]) -> None:
    with pytest.raises(FatalError) as refused:
        filter_groups(parse_segment(segment), NOW)
    assert (
        str(refused.value) == "write hard_bounced as 'eq: true' or 'eq: false' for HubSpot (it is always known there)"
    )
