"""Segments read from the Salesforce emulator return exactly the people ``evaluate`` says they should."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from campaign_bridge.connectors.base import SupportsSegments, Watermark
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import evaluate, parse_segment
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from tests.contract.harness_memory import FakeClock
from tests.contract.harness_salesforce import no_wait_policy, settings_for


class Org:
    """A seeded org and the canonical view of each person in it (what ``evaluate`` reads)."""

    def __init__(self, sandbox: SalesforceSandbox, clock: FakeClock) -> None:
        self.sandbox, self.state, self.clock = sandbox, sandbox.state, clock
        self.people: dict[str, dict[str, Any]] = {}
        self.other_owner = self.state.create("User", Username="rep@example.com", Email="rep@example.com")
        self.accounts = {name: self.state.add_account(name) for name in ("Acme", "Globex")}

    def lead(self, email: str, *, days_ago: int, status: str = "Open - Not Contacted", **kw: Any) -> None:
        self.clock.now = NOW - timedelta(days=days_ago)
        company = kw.pop("company", "Acme")
        owner = kw.pop("owner", self.state.user_id)
        ident = self.state.add_lead(email, company=company, status=status, OwnerId=owner, **kw)
        view = {"email": email, "company": company, "lead_status": status, "owner": owner, "created_at": self.clock.now}
        self.people[ident] = {**view, "last_name": kw.get("last_name", "Doe"), "first_name": kw.get("FirstName")}

    def contact(
        self, email: str, *, days_ago: int, account: str | None = None, stage: str | None = None, **kw: Any
    ) -> None:
        self.clock.now = NOW - timedelta(days=days_ago)
        owner = kw.pop("owner", self.state.user_id)
        extra = {"AccountId": self.accounts[account]} if account else {}
        ident = self.state.add_contact(email, OwnerId=owner, **extra, **kw)
        if stage is not None:
            opp = self.state.add_opportunity(f"Deal {email}", stage, "2026-06-30")
            self.state.add_contact_role(opp, ident)
        self.people[ident] = {
            "email": email,
            "company": account,
            "owner": owner,
            "created_at": self.clock.now,
            "opportunity_stage": stage,
            "first_name": kw.get("first_name") or None,
            "last_name": kw.get("last_name", "Doe"),
        }


NOW = FakeClock().now


@pytest.fixture(scope="module")
def org() -> Iterator[Org]:
    clock = FakeClock()
    with SalesforceSandbox() as sandbox:
        sandbox.state.clock = clock
        o = Org(sandbox, clock)
        o.lead("fresh.working@example.com", days_ago=3, status="Working - Contacted")
        o.lead("old.working@example.com", days_ago=90, status="Working - Contacted", last_name="O'Hara")
        o.lead("vip.lead@globex.com", days_ago=10, company="Globex", owner=o.other_owner)
        o.lead("open@example.com", days_ago=45)
        o.contact("won@example.com", days_ago=5, account="Acme", stage="Closed Won", first_name="Wyn")
        o.contact("lost@example.com", days_ago=60, account="Globex", stage="Closed Lost", last_name="Smith")
        o.contact("vip.contact@example.com", days_ago=20, owner=o.other_owner, first_name="Vi")
        o.contact("quote'd@example.com", days_ago=1, account="Globex", stage="Closed Won")
        clock.now = NOW
        yield o


SEGMENTS = [
    {"field": "lead_status", "eq": "Working - Contacted"},
    {"all": [{"field": "created_at", "within": "30d"}, {"not": {"field": "company", "eq": "Acme"}}]},
    {"any": [{"field": "opportunity_stage", "eq": "Closed Won"}, {"field": "email", "contains": "vip"}]},
    {"field": "opportunity_stage", "ne": "Closed Won"},
    {"field": "last_name", "in": ["O'Hara", "smith"]},
    {"field": "email", "eq": "QUOTE'D@example.com"},
    {"all": [{"field": "created_at", "not_within": "30d"}, {"field": "first_name", "exists": False}]},
]


@pytest.mark.parametrize("raw", SEGMENTS, ids=[str(i) for i in range(len(SEGMENTS))])
def test_segment_returns_exactly_the_matching_people(org: Org, raw: dict[str, Any]) -> None:
    segment = parse_segment(raw)
    conn = SalesforceConnector("sf", settings_for(org.sandbox), policy=no_wait_policy(), clock=lambda: NOW)
    assert isinstance(conn, SupportsSegments)
    got = {r.person.ref.id for r in conn.read_segment(segment)}
    expected = {pid for pid, view in org.people.items() if evaluate(segment, view, NOW)}
    assert expected, "a segment that matches nobody proves little"
    assert got == expected


def test_segment_owner_and_incremental_window(org: Org) -> None:
    conn = SalesforceConnector("sf", settings_for(org.sandbox), policy=no_wait_policy(), clock=lambda: NOW)
    segment = parse_segment({"field": "owner", "eq": org.other_owner})
    since = Watermark(NOW - timedelta(days=15))
    rows = list(conn.read_segment(segment, since=since, until=NOW))
    assert [r.person.email for r in rows] == ["vip.lead@globex.com"]
    assert rows[0].person.ref.kind == "Lead"


def test_segment_on_unfilterable_fields_is_refused_before_any_call(org: Org) -> None:
    conn = SalesforceConnector("sf", settings_for(org.sandbox), policy=no_wait_policy())
    with pytest.raises(FatalError, match="cannot filter people on score; it can filter on: company"):
        list(conn.read_segment(parse_segment({"field": "score", "gte": 10})))
    assert conn.usage().calls == 0
