"""Salesforce segment translation where a field lives on one object only (``lead_status`` on Leads,
``opportunity_stage`` on Contacts): the people read are exactly those ``evaluate`` picks, and the stage's
inlining limit is refused with the cure."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import evaluate, parse_segment
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from tests.connectors.test_salesforce_segments import NOW, Org, org
from tests.contract.harness_salesforce import no_wait_policy, settings_for

__all__ = ["org"]  # the seeded org fixture, shared with test_salesforce_segments

ONE_OBJECT_SEGMENTS = [
    {"field": "lead_status", "exists": False},
    {"field": "lead_status", "exists": True},
    {"any": [{"field": "lead_status", "ne": "Open - Not Contacted"}, {"field": "email", "contains": "open"}]},
    {"any": [{"field": "lead_status", "eq": "Open - Not Contacted"}, {"field": "company", "eq": "Globex"}]},
    {
        "not": {
            "any": [
                {"field": "lead_status", "eq": "Working - Contacted"},
                {"field": "opportunity_stage", "exists": True},
            ]
        }
    },
    {"field": "opportunity_stage", "exists": True},
    {"field": "opportunity_stage", "exists": False},
    {"field": "opportunity_stage", "not_in": ["Closed Won"]},
    {"field": "opportunity_stage", "in": ["Closed Won", "Closed Lost"]},
    {
        "all": [
            {"field": "lead_status", "eq": "Open - Not Contacted"},
            {"field": "opportunity_stage", "eq": "Closed Won"},
        ]
    },
    {"all": [{"field": "lead_status", "exists": False}, {"field": "opportunity_stage", "ne": "Nope"}]},
    {"any": [{"field": "lead_status", "eq": "Nope"}, {"field": "opportunity_stage", "eq": "Nope"}]},
    {"all": [{"field": "lead_status", "ne": "Closed"}, {"field": "company", "eq": "Globex"}]},
]
#: Dates and moments written in the rule, against CreatedDate (NOW is 2026-01-05 09:00 UTC).
DATE_SEGMENTS = [
    {"field": "created_at", "gte": "2025-12-20"},
    {"field": "created_at", "lt": "2025-12-26T09:00:00Z"},  # exactly one person was created then: not before
    {"field": "created_at", "lte": "2025-12-26T09:00:00Z"},
    {"field": "created_at", "gt": "2025-12-26T09:00:00Z"},
    {"field": "created_at", "eq": "2025-12-26T09:00:00Z"},
    {"field": "created_at", "ne": "2025-12-26T09:00:00Z"},
    {"field": "created_at", "in": ["2025-12-26T09:00:00Z", "2026-01-04T09:00:00Z"]},
    {"field": "created_at", "not_in": ["2025-12-26T09:00:00Z"]},
    {"not": {"field": "created_at", "lte": "2025-12-31"}},
]


@pytest.mark.parametrize(
    "raw", ONE_OBJECT_SEGMENTS + DATE_SEGMENTS, ids=[str(i) for i in range(len(ONE_OBJECT_SEGMENTS + DATE_SEGMENTS))]
)
def test_a_field_one_object_lacks_selects_as_evaluate_does(org: Org, raw: dict[str, Any]) -> None:
    segment = parse_segment(raw)
    conn = SalesforceConnector("sf", settings_for(org.sandbox), policy=no_wait_policy(), clock=lambda: NOW)
    got = {r.person.ref.id for r in conn.read_segment(segment)}
    assert got == {pid for pid, view in org.people.items() if evaluate(segment, view, NOW)}


@pytest.mark.parametrize(("contacts", "refused"), [(300, False), (301, True)])
def test_a_stage_matching_more_contacts_than_a_query_can_inline_is_refused(contacts: int, refused: bool) -> None:
    with SalesforceSandbox() as sandbox:
        state = sandbox.state
        deal = state.add_opportunity("Big deal", "Negotiation", "2026-06-30")
        for i in range(contacts):
            state.add_contact_role(deal, state.add_contact(f"c{i}@example.com"))
        conn = SalesforceConnector("sf", settings_for(sandbox), policy=no_wait_policy(), clock=lambda: NOW)
        segment = parse_segment({"field": "opportunity_stage", "eq": "Negotiation"})
        if not refused:
            assert len(list(conn.read_segment(segment))) == contacts
            return
        with pytest.raises(FatalError) as caught:
            list(conn.read_segment(segment))
    assert str(caught.value) == (
        "the segment's opportunity_stage condition matches 301 contacts; at most 300 can be inlined into a "
        "Salesforce query. Narrow the stage, or combine it with a source campaign instead"
    )


@pytest.mark.parametrize(
    "raw",
    [
        {"field": "last_activity_at", "gte": "2025-12-20"},
        {"field": "last_activity_at", "lt": "2025-12-20"},
        {"field": "last_activity_at", "in": ["2025-12-20", "2025-11-01"]},
        {"field": "last_activity_at", "within": "30d"},
        {"field": "last_activity_at", "not_within": "30d"},
    ],
)
def test_a_date_only_field_selects_by_calendar_day(raw: dict[str, Any]) -> None:
    days = {"a@example.com": date(2025, 12, 20), "b@example.com": date(2025, 11, 1), "c@example.com": date(2025, 12, 6)}
    days["d@example.com"] = date(2025, 12, 5)
    with SalesforceSandbox() as sandbox:
        state = sandbox.state
        views = {}
        for email, day in days.items():
            ident = state.add_contact(email)
            state.set_last_activity(ident, day)
            views[ident] = {"email": email, "last_activity_at": day}
        views[state.add_contact("never@example.com")] = {"email": "never@example.com"}
        conn = SalesforceConnector("sf", settings_for(sandbox), policy=no_wait_policy(), clock=lambda: NOW)
        segment = parse_segment(raw)
        got = {r.person.ref.id for r in conn.read_segment(segment)}
    expected = {pid for pid, view in views.items() if evaluate(segment, view, NOW)}
    assert expected
    assert got == expected


def test_a_field_salesforce_cannot_filter_on_is_refused_listing_those_it_can() -> None:
    with SalesforceSandbox() as sandbox:
        conn = SalesforceConnector("sf", settings_for(sandbox), policy=no_wait_policy())
        with pytest.raises(FatalError) as refused:
            list(
                conn.read_segment(
                    parse_segment({"all": [{"field": "score", "gte": 10}, {"field": "hard_bounced", "eq": True}]})
                )
            )
    assert str(refused.value) == (
        "Salesforce cannot filter people on hard_bounced, score; it can filter on: company, country, created_at, "
        "email, first_name, last_activity_at, last_name, lead_status, opportunity_stage, owner"
    )
