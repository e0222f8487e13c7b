"""Dynamics segments over HTTP against the sandbox: who each segment operator selects among contacts and
leads (OData ``$filter`` per table; a field a table lacks, such as a contact's company, counts as empty).
Unit-level, so mutation runs reach ``dynamics/segments.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import parse_segment
from tests.contract.harness_dynamics import DynamicsHarness


@pytest.fixture
def harness() -> Iterator[DynamicsHarness]:
    h = DynamicsHarness()
    h.state.add_contact("ann@example.com", "Ann", "Lee", address1_country="France")
    h.state.add_contact("bob@example.com", "Bob", "O'Neil", address1_country="Spain")
    h.state.add_contact("cy@example.com", "", "Moss")
    h.state.add_lead("dee@example.com", "Dee", "Park", company="Acme")
    h.state.add_lead("eve@example.com", "Eve", "Ray")
    yield h
    h.close()


def _selected(harness: DynamicsHarness, segment: dict[str, Any]) -> list[str]:
    return sorted(m.person.email or "" for m in harness.connector().read_segment(parse_segment(segment)))


@pytest.mark.parametrize(
    ("segment", "emails"),
    [
        ({"field": "country", "eq": "France"}, ["ann@example.com"]),
        ({"field": "last_name", "eq": "O'Neil"}, ["bob@example.com"]),  # a quote in the literal
        (
            {"field": "country", "ne": "France"},
            ["bob@example.com", "cy@example.com", "dee@example.com", "eve@example.com"],
        ),
        ({"field": "last_name", "lt": "Moss"}, ["ann@example.com"]),
        ({"field": "last_name", "lte": "Moss"}, ["ann@example.com", "cy@example.com"]),
        ({"field": "last_name", "gt": "Park"}, ["eve@example.com"]),
        ({"field": "last_name", "gte": "Park"}, ["dee@example.com", "eve@example.com"]),
        ({"field": "email", "contains": "ee@"}, ["dee@example.com"]),
        ({"field": "country", "in": ["France", "Spain"]}, ["ann@example.com", "bob@example.com"]),
        (
            {"field": "country", "not_in": ["France"]},
            ["bob@example.com", "cy@example.com", "dee@example.com", "eve@example.com"],
        ),
        ({"field": "first_name", "exists": False}, ["cy@example.com"]),
        ({"field": "country", "exists": True}, ["ann@example.com", "bob@example.com"]),
        # company is a lead column: a contact has none, so it is missing, never equal
        ({"field": "company", "eq": "Acme"}, ["dee@example.com"]),
        (
            {"field": "company", "exists": False},
            ["ann@example.com", "bob@example.com", "cy@example.com", "eve@example.com"],
        ),
        (
            {"field": "company", "ne": "Acme"},
            ["ann@example.com", "bob@example.com", "cy@example.com", "eve@example.com"],
        ),
        (
            {"not": {"field": "company", "eq": "Acme"}},
            ["ann@example.com", "bob@example.com", "cy@example.com", "eve@example.com"],
        ),
        (
            {"not": {"field": "country", "eq": "France"}},
            ["bob@example.com", "cy@example.com", "dee@example.com", "eve@example.com"],
        ),
        (
            {"all": [{"field": "last_name", "gte": "L"}, {"field": "country", "exists": True}]},
            ["ann@example.com", "bob@example.com"],
        ),
        (
            {"any": [{"field": "country", "eq": "Spain"}, {"field": "company", "eq": "Acme"}]},
            ["bob@example.com", "dee@example.com"],
        ),
    ],
)
def test_each_operator_selects_the_people_it_names(
    harness: DynamicsHarness, segment: dict[str, Any], emails: list[str]
) -> None:
    assert _selected(harness, segment) == emails


def test_a_field_dynamics_cannot_filter_on_is_refused_naming_those_it_can(harness: DynamicsHarness) -> None:
    with pytest.raises(FatalError, match=r"cannot filter people on score; it can filter on: company, country, "):
        _selected(harness, {"field": "score", "gte": 50})
