"""A date the rule marks as UTC (``2026-01-31Z``, which ``validate`` accepts) reaches each vendor as that
midnight in UTC, in the vendor's own literal: the query is what the vendor sees."""

from __future__ import annotations

from datetime import UTC, datetime

from campaign_bridge.connectors.dynamics.segments import condition_filter
from campaign_bridge.connectors.hubspot.search import filter_groups
from campaign_bridge.connectors.salesforce.segments import condition_soql
from campaign_bridge.mapping.segment import Condition, parse_segment

NOW = datetime(2026, 3, 1, tzinfo=UTC)
MIDNIGHT_MS = str(int(datetime(2026, 1, 31, tzinfo=UTC).timestamp() * 1000))


def _condition(raw: dict[str, object]) -> Condition:
    segment = parse_segment(raw)
    assert isinstance(segment, Condition)
    return segment


def test_salesforce_reads_a_utc_date_as_its_midnight_and_a_date_field_as_that_day() -> None:
    created = _condition({"field": "created_at", "gte": "2026-01-31Z"})
    assert condition_soql("CreatedDate", created, NOW) == "CreatedDate >= 2026-01-31T00:00:00Z"
    active = _condition({"field": "last_activity_at", "in": ["2026-01-31Z", "2026-02-01"]})
    assert condition_soql("LastActivityDate", active, NOW) == "LastActivityDate IN (2026-01-31, 2026-02-01)"


def test_dynamics_reads_a_utc_date_as_its_midnight() -> None:
    created = _condition({"field": "created_at", "lt": "2026-01-31Z"})
    assert condition_filter("createdon", created, NOW) == "createdon lt 2026-01-31T00:00:00Z"


def test_hubspot_reads_a_utc_date_as_its_midnight_in_epoch_milliseconds() -> None:
    created = parse_segment({"field": "created_at", "gte": "2026-01-31Z"})
    assert filter_groups(created, NOW) == [[{"propertyName": "createdate", "operator": "GTE", "value": MIDNIGHT_MS}]]
