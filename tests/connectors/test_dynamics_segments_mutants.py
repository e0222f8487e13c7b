"""The OData ``$filter`` Dynamics receives for a segment, per table (contacts, leads): the query IS what
the vendor sees, so each operator's text, the escaping of its literal, the window's bound, and how a
column a table lacks folds away are asserted exactly (dynamics/segments.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from campaign_bridge.connectors.dynamics.segments import condition_filter, table_filter
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import Condition, Op, parse_segment

NOW = datetime(2026, 3, 10, 12, 30, 45, 250000, tzinfo=UTC)


def _filter(segment: dict[str, Any], table: str = "contact") -> object:
    return table_filter(parse_segment(segment), table, NOW)


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ({"field": "email", "eq": "o'brien@x.com"}, "emailaddress1 eq 'o''brien@x.com'"),
        ({"field": "first_name", "ne": "Ann"}, "firstname ne 'Ann'"),
        ({"field": "last_name", "lt": "M"}, "lastname lt 'M'"),
        ({"field": "last_name", "lte": "M"}, "lastname le 'M'"),
        ({"field": "last_name", "gt": "M"}, "lastname gt 'M'"),
        ({"field": "last_name", "gte": "M"}, "lastname ge 'M'"),
        ({"field": "country", "contains": "o'l"}, "contains(address1_country,'o''l')"),
        ({"field": "country", "exists": True}, "address1_country ne null"),
        ({"field": "country", "exists": False}, "address1_country eq null"),
        (
            {"field": "country", "in": ["France", "Côte d'Ivoire"]},
            "Microsoft.Dynamics.CRM.In(PropertyName='address1_country',PropertyValues=['France','Côte d''Ivoire'])",
        ),
        (
            {"field": "country", "not_in": ["France"]},
            "Microsoft.Dynamics.CRM.NotIn(PropertyName='address1_country',PropertyValues=['France'])",
        ),
        # the owner lookup is filtered by its GUID, lower-cased and unquoted; In() names the property
        (
            {"field": "owner", "eq": "A1B2C3D4-0000-1111-2222-333344445555"},
            "_ownerid_value eq a1b2c3d4-0000-1111-2222-333344445555",
        ),
        (
            {"field": "owner", "in": ["g-1", "g-2"]},
            "Microsoft.Dynamics.CRM.In(PropertyName='ownerid',PropertyValues=['g-1','g-2'])",
        ),
        (
            {"field": "owner", "not_in": ["g-1"]},
            "Microsoft.Dynamics.CRM.NotIn(PropertyName='ownerid',PropertyValues=['g-1'])",
        ),
        # a date is written in UTC, to the second, unquoted
        ({"field": "created_at", "gte": "2026-01-10"}, "createdon ge 2026-01-10T00:00:00Z"),
        ({"field": "created_at", "lt": "2026-01-10T09:15:00Z"}, "createdon lt 2026-01-10T09:15:00Z"),
        ({"field": "created_at", "gt": "2026-01-10T09:15:00+02:00"}, "createdon gt 2026-01-10T07:15:00Z"),
        # a window's bound is now minus the window, in UTC
        ({"field": "created_at", "within": "7d"}, "createdon ge 2026-03-03T12:30:45Z"),
        ({"field": "created_at", "not_within": "12h"}, "(createdon lt 2026-03-10T00:30:45Z or createdon eq null)"),
    ],
)
def test_each_operator_reaches_dynamics_as_odata(segment: dict[str, Any], expected: str) -> None:
    assert _filter(segment) == expected
    assert _filter(segment, "lead") == expected


def test_a_window_bound_from_a_moment_in_another_zone_is_written_in_utc() -> None:
    now = datetime.fromisoformat("2026-03-10T14:00:00+02:00")
    window = parse_segment({"field": "created_at", "within": "1d"})
    assert table_filter(window, "contact", now) == "createdon ge 2026-03-09T12:00:00Z"


def test_a_null_literal_is_odata_null() -> None:
    assert condition_filter("firstname", Condition("first_name", Op.EQ, None), NOW) == "firstname eq null"
    assert condition_filter("createdon", Condition("created_at", Op.NE, None), NOW) == "createdon ne null"


def test_company_is_a_lead_column_and_missing_on_a_contact() -> None:
    assert _filter({"field": "company", "eq": "Acme"}, "lead") == "companyname eq 'Acme'"
    # on a contact it has no value: eq is false, ne true, exists false true (as the reference evaluator)
    assert _filter({"field": "company", "eq": "Acme"}) is False
    assert _filter({"field": "company", "in": ["Acme"]}) is False
    assert _filter({"field": "company", "contains": "Ac"}) is False
    assert _filter({"field": "company", "exists": True}) is False
    assert _filter({"field": "company", "ne": "Acme"}) is True
    assert _filter({"field": "company", "not_in": ["Acme"]}) is True
    assert _filter({"field": "company", "exists": False}) is True
    assert _filter({"not": {"field": "company", "eq": "Acme"}}) is True
    assert _filter({"not": {"field": "company", "exists": False}}) is False


def test_combinations_fold_and_join_with_odata_words() -> None:
    both = {"all": [{"field": "country", "eq": "France"}, {"field": "last_name", "gte": "L"}]}
    assert _filter(both) == "(address1_country eq 'France' and lastname ge 'L')"
    either = {"any": [{"field": "country", "eq": "France"}, {"field": "last_name", "gte": "L"}]}
    assert _filter(either) == "(address1_country eq 'France' or lastname ge 'L')"
    assert _filter({"not": {"field": "country", "eq": "France"}}) == "(not address1_country eq 'France')"
    # a contact has no company: the all is false, the any keeps its other branch
    with_company = [{"field": "company", "eq": "Acme"}, {"field": "country", "eq": "France"}]
    assert _filter({"all": with_company}) is False
    assert _filter({"all": with_company}, "lead") == "(companyname eq 'Acme' and address1_country eq 'France')"
    assert _filter({"any": with_company}) == "address1_country eq 'France'"


def test_a_field_dynamics_cannot_filter_is_refused_naming_those_it_can() -> None:
    segment = {"all": [{"field": "score", "gte": 50}, {"field": "hard_bounced", "eq": True}]}
    with pytest.raises(FatalError) as caught:
        _filter(segment)
    assert str(caught.value) == (
        "Dynamics cannot filter people on hard_bounced, score; it can filter on: "
        "company, country, created_at, email, first_name, last_name, owner"
    )


@pytest.mark.usefixtures("tokyo_server")
def test_a_bound_is_written_in_utc_whatever_the_servers_zone() -> None:
    assert _filter({"field": "created_at", "within": "7d"}) == "createdon ge 2026-03-03T12:30:45Z"
    assert _filter({"field": "created_at", "gte": "2026-01-10"}) == "createdon ge 2026-01-10T00:00:00Z"


def test_not_in_changes_only_the_function_never_a_value_that_spells_it() -> None:
    value = "Microsoft.Dynamics.CRM.In(x"
    assert _filter({"field": "country", "not_in": [value]}) == (
        "Microsoft.Dynamics.CRM.NotIn(PropertyName='address1_country',PropertyValues=['Microsoft.Dynamics.CRM.In(x'])"
    )
