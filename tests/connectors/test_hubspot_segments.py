"""Behaviour segments read from HubSpot's contact search: exactly the people ``evaluate`` picks, all of
them past the 10,000-result cap, and refusals that name HubSpot's limits."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.connectors.hubspot.search import filter_groups
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import evaluate, parse_segment
from tests.contract.harness_hubspot import HubSpotHarness


def _population(now: datetime, n: int = 240) -> list[dict[str, Any]]:
    """People with every behaviour field present or absent, boundaries included."""
    rng = random.Random(7)
    pages = ["https://acme.com/pricing", "https://acme.com/blog/pricing-guide", "https://acme.com/about", None]
    people: list[dict[str, Any]] = []
    for i in range(n):

        def maybe_days_ago(top: int) -> datetime | None:
            return None if rng.random() < 0.25 else now - timedelta(days=rng.randint(0, top), seconds=rng.randint(0, 9))

        people.append(
            {
                "email": f"Person{i}@Example.com",
                "score": None if rng.random() < 0.2 else rng.choice([0, 10, 49, 50, 51, 80]),
                "soft_bounce_count": None if rng.random() < 0.3 else rng.randint(0, 6),
                "hard_bounced": rng.random() < 0.1,
                "last_form_submitted": rng.choice(["Webinar signup", "Contact us", None]),
                "last_form_submitted_at": maybe_days_ago(90),
                "last_activity_at": maybe_days_ago(120),
                "last_email_open_at": maybe_days_ago(40),
                "last_page_visited": rng.choice(pages),
                "lifecycle_stage": rng.choice(["lead", "customer", "opportunity", None]),
            }
        )
    # Exactly on the window edges: inside for "within", outside for "not_within".
    people.append({"email": "edge30@example.com", "last_form_submitted_at": now - timedelta(days=30)})
    people.append({"email": "edge60@example.com", "last_activity_at": now - timedelta(days=60)})
    return people


SEGMENTS = {
    "form submitted within 30 days": {"field": "last_form_submitted_at", "within": "30d"},
    "four or more soft bounces": {"field": "soft_bounce_count", "gte": 4},
    "no activity in 60 days": {"field": "last_activity_at", "not_within": "60d"},
    "score at least 50": {"field": "score", "gte": 50},
    "engaged and deliverable": {"all": [{"field": "score", "gte": 50}, {"not": {"field": "hard_bounced", "eq": True}}]},
    "pricing visitors or customers": {
        "any": [
            {"field": "last_page_visited", "contains": "/pricing"},
            {"field": "lifecycle_stage", "in": ["customer", "opportunity"]},
        ]
    },
    "not (cold and unopened)": {
        "not": {"all": [{"field": "score", "lt": 10}, {"field": "last_email_open_at", "within": "14d"}]}
    },
    "webinar form, never bounced hard": {
        "all": [
            {"field": "last_form_submitted", "eq": "webinar signup"},
            {"field": "hard_bounced", "eq": False},
        ]
    },
}


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[HubSpotHarness, dict[str, dict[str, Any]]]]:
    """One portal holding the population, shared by the read-only segment tests: {contact id: fields}."""
    harness = HubSpotHarness()
    try:
        people = _population(harness.now())
        ids = {harness.add_person(p["email"], **{k: v for k, v in p.items() if k != "email"}).id: p for p in people}
        yield harness, ids
    finally:
        harness.close()


@pytest.mark.parametrize("name", list(SEGMENTS))
def test_behaviour_segment_returns_exactly_the_matching_contacts(
    seeded: tuple[HubSpotHarness, dict[str, dict[str, Any]]], name: str
) -> None:
    hs, ids = seeded
    now = hs.now()
    segment = parse_segment(SEGMENTS[name])
    expected = {pid for pid, p in ids.items() if evaluate(segment, p, now)}
    assert expected, "the population should hold some matches"

    rows = list(hs.connector().read_segment(segment))

    assert sorted(r.person.ref.id for r in rows) == sorted(expected)
    assert all(r.person.email == ids[r.person.ref.id]["email"].lower() for r in rows)


def test_segment_read_past_the_10000_result_cap(hs: HubSpotHarness) -> None:
    base = hs.now() - timedelta(days=3)
    # 12,000 matches, three to a second of lastmodifieddate, and 500 that do not match.
    rows: list[tuple[str, dict[str, object]]] = [
        (f"m{i}@example.com", {"hubspotscore": 60, "lastmodifieddate": base + timedelta(seconds=i // 3)})
        for i in range(12_000)
    ]
    rows += [(f"x{i}@example.com", {"hubspotscore": 5}) for i in range(500)]
    ids = hs.sb.state.bulk_add_contacts(rows)
    conn = hs.connector()

    found = [r.person.ref.id for r in conn.read_segment(parse_segment({"field": "score", "gte": 50}))]

    assert len(found) == len(set(found)) == 12_000
    assert set(found) == set(ids[:12_000])
    assert not any(entry.status == 400 for entry in hs.sb.server.log)


def test_segment_read_when_more_than_a_page_shares_one_timestamp(hs: HubSpotHarness) -> None:
    # A bulk import: 1,000 contacts modified in the same millisecond, then a few later ones.
    stamp = hs.now() - timedelta(hours=1)
    ids = hs.sb.state.bulk_add_contacts(
        [(f"imp{i}@example.com", {"hubspotscore": 70, "lastmodifieddate": stamp}) for i in range(1_000)]
    )
    ids += hs.sb.state.bulk_add_contacts([(f"late{i}@example.com", {"hubspotscore": 90}) for i in range(5)])

    found = [r.person.ref.id for r in hs.connector().read_segment(parse_segment({"field": "score", "gte": 50}))]

    assert sorted(found) == sorted(ids)


def test_incremental_segment_read_is_bounded_by_since_and_until(hs: HubSpotHarness) -> None:
    t0 = hs.now()
    early = hs.sb.state.bulk_add_contacts(
        [(f"e{i}@example.com", {"hubspotscore": 70, "lastmodifieddate": t0 - timedelta(days=2)}) for i in range(3)]
    )
    middle = hs.sb.state.bulk_add_contacts(
        [(f"m{i}@example.com", {"hubspotscore": 70, "lastmodifieddate": t0 - timedelta(hours=1)}) for i in range(3)]
    )
    hs.sb.state.bulk_add_contacts([(f"l{i}@example.com", {"hubspotscore": 70}) for i in range(3)])
    segment = parse_segment({"field": "score", "gte": 50})

    rows = list(hs.connector().read_segment(segment, Watermark(t0 - timedelta(days=1)), t0 - timedelta(minutes=1)))

    assert sorted(r.person.ref.id for r in rows) == sorted(middle)
    assert not set(early) & {r.person.ref.id for r in rows}
    assert all(r.modified_at is not None for r in rows)


def test_not_within_on_a_date_also_matches_people_who_never_did_it() -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    groups = filter_groups(parse_segment({"field": "last_activity_at", "not_within": "60d"}), now)
    assert [[f["operator"] for f in g] for g in groups] == [["LT"], ["NOT_HAS_PROPERTY"]]
    assert {g[0]["propertyName"] for g in groups} == {"notes_last_updated"}
    assert groups[0][0]["value"] == str(int((now - timedelta(days=60)).timestamp() * 1000))  # epoch ms


def test_segment_beyond_hubspot_filter_limits_is_refused_naming_them() -> None:
    six_ways = {"any": [{"field": "score", "eq": n} for n in range(6)]}
    with pytest.raises(FatalError, match=r"at most 5 filter groups, 6 filters per group and 18 filters in all"):
        filter_groups(parse_segment(six_ways), datetime(2026, 1, 1))
    wide = {"all": [{"field": "score", "gte": n} for n in range(6)]}
    with pytest.raises(FatalError, match="keeps 1 filter per group"):
        filter_groups(parse_segment(wide), datetime(2026, 1, 1))


def test_segment_on_a_field_hubspot_contacts_lack_is_refused() -> None:
    with pytest.raises(FatalError, match="deal"):
        filter_groups(parse_segment({"field": "opportunity_stage", "eq": "Closed Won"}), datetime(2026, 1, 1))


@pytest.mark.parametrize("text", ["*", "/pricing*", "a*b"])
def test_a_contains_holding_a_star_is_refused_before_any_search(hs: HubSpotHarness, text: str) -> None:
    # HubSpot's CONTAINS_TOKEN reads * as a wildcard and documents no escape: passed through, ``*`` became
    # ``***`` and matched every contact with a page (11 added to a CRM campaign in the probe).
    for i in range(11):
        hs.add_person(f"visitor{i}@example.com", last_page_visited=f"https://acme.com/page-{i}")
    conn = hs.connector()

    with pytest.raises(FatalError, match=r"HubSpot's search reads \* in .* as a wildcard and cannot escape it"):
        list(conn.read_segment(parse_segment({"field": "last_page_visited", "contains": text})))

    assert not any(entry.path.endswith("/search") for entry in hs.sb.server.log)


def test_a_contains_without_a_star_still_finds_the_text_over_http(hs: HubSpotHarness) -> None:
    hs.add_person("a@example.com", last_page_visited="https://acme.com/pricing")
    hs.add_person("b@example.com", last_page_visited="https://acme.com/about")

    rows = list(hs.connector().read_segment(parse_segment({"field": "last_page_visited", "contains": "pricing"})))

    assert [r.person.email for r in rows] == ["a@example.com"]
