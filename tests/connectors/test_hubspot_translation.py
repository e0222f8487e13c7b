"""HubSpot's segment translation as its reader notices it: a bulk import sharing one timestamp read whole
whatever the segment's width, and refusals whose whole text tells the admin what to change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaign_bridge.connectors.hubspot.search import filter_groups
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import parse_segment
from tests.contract.harness_hubspot import HubSpotHarness

#: Five conditions: with the read's own window, a HubSpot filter group is full (six filters), so a page of
#: contacts sharing one timestamp cannot be walked by id and is read by offset.
FIVE = {
    "all": [
        {"field": "score", "gte": 50},
        {"field": "score", "lte": 100},
        {"field": "soft_bounce_count", "lte": 3},
        {"field": "lifecycle_stage", "in": ["lead", "customer"]},
        {"field": "last_form_submitted", "eq": "Webinar signup"},
    ]
}
MATCH = {
    "hubspotscore": 70,
    "hs_email_bounce": 1,
    "lifecyclestage": "lead",
    "recent_conversion_event_name": "Webinar signup",
}


def _import(hs: HubSpotHarness, count: int, stamp: datetime, **extra: object) -> list[str]:
    return hs.sb.state.bulk_add_contacts(
        [(f"imp{i}@example.com", {**MATCH, **extra, "lastmodifieddate": stamp}) for i in range(count)]
    )


def test_a_full_width_segment_reads_a_bulk_import_sharing_one_timestamp_whole(hs: HubSpotHarness) -> None:
    stamp = hs.now() - timedelta(hours=1)
    ids = _import(hs, 450, stamp)
    hs.sb.state.bulk_add_contacts([("other@example.com", {**MATCH, "hubspotscore": 10, "lastmodifieddate": stamp})])

    found = [r.person.ref.id for r in hs.connector().read_segment(parse_segment(FIVE))]

    assert len(found) == len(set(found))
    assert sorted(found) == sorted(ids)


def test_a_bulk_import_past_the_result_cap_with_a_full_width_segment_is_refused_naming_the_cure(
    hs: HubSpotHarness,
) -> None:
    _import(hs, 10_050, hs.now() - timedelta(hours=1))
    with pytest.raises(FatalError) as caught:
        list(hs.connector().read_segment(parse_segment(FIVE)))
    assert str(caught.value) == (
        "sys: over 10,000 contacts share one lastmodifieddate and the segment leaves no filter free to page "
        "them by id; simplify the segment by one condition"
    )


def test_a_segment_with_too_many_branches_is_refused_with_its_shape_and_hubspots_limits() -> None:
    six_ways = {"any": [{"field": "score", "eq": n} for n in range(6)]}
    with pytest.raises(FatalError) as caught:
        filter_groups(parse_segment(six_ways), datetime(2026, 1, 1, tzinfo=UTC))
    assert str(caught.value) == (
        "this segment needs 6 OR-ed groups, up to 1 filters in one, 6 in all as a HubSpot search; HubSpot allows "
        "at most 5 filter groups, 6 filters per group and 18 filters in all, and campaign-bridge keeps 1 filter "
        "per group to read past the 10,000-result cap. Simplify the segment (fewer 'any' branches; 'not' on a "
        "date or comparison adds a branch for people without a value) or split it across rules"
    )


def test_a_segment_whose_branches_multiply_out_is_refused_before_it_is_expanded() -> None:
    # (a or b) and (c or d) and …: 2^7 groups, refused while expanding
    pairs = {"all": [{"any": [{"field": "score", "eq": n}, {"field": "score", "eq": n + 100}]} for n in range(7)]}
    with pytest.raises(FatalError) as caught:
        filter_groups(parse_segment(pairs), datetime(2026, 1, 1, tzinfo=UTC))
    assert str(caught.value).startswith("this segment needs 128 OR-ed groups as a HubSpot search;")


def test_a_star_in_a_contains_is_refused_with_the_whole_reason() -> None:
    with pytest.raises(FatalError) as caught:
        filter_groups(
            parse_segment({"field": "last_page_visited", "contains": "a*b"}), datetime(2026, 1, 1, tzinfo=UTC)
        )
    assert str(caught.value) == (
        "segment field 'last_page_visited': HubSpot's search reads * in 'a*b' as a wildcard and cannot escape "
        "it, so it would match far more than the text; look for the text without it"
    )


FOUR = {"all": FIVE["all"][:4]}  # with the read's window and the id cursor: exactly six filters, room for the id cursor
#: three different groups: 3 × (4 + 2) = 18 filters, HubSpot's whole allowance
THREE_BY_FOUR = {"any": [{"all": [{"field": "score", "gte": n}, *FIVE["all"][1:4]]} for n in (50, 60, 65)]}


@pytest.mark.parametrize(("segment", "count"), [(FOUR, 10_050), (THREE_BY_FOUR, 10_050), (FIVE, 9_900)])
def test_a_bulk_import_sharing_one_timestamp_is_read_whole_up_to_what_hubspot_can_page(
    hs: HubSpotHarness, segment: dict[str, object], count: int
) -> None:
    ids = _import(hs, count, hs.now() - timedelta(hours=1))
    found = [r.person.ref.id for r in hs.connector().read_segment(parse_segment(segment))]
    assert len(found) == len(set(found)) == count
    assert set(found) == set(ids)


def test_a_shared_timestamp_is_walked_by_id_a_page_at_a_time(hs: HubSpotHarness) -> None:
    ids = _import(hs, 1_000, hs.now() - timedelta(hours=1))
    found = [r.person.ref.id for r in hs.connector().read_segment(parse_segment(FOUR))]
    assert sorted(found) == sorted(ids)
    searches = [e for e in hs.sb.server.log if e.path.endswith("/search")]
    # a page, a page past it (all on the same stamp), five pages by id and their empty end, then the one
    # millisecond after the stamp: nothing is read twice
    assert len(searches) == 2 + 5 + 1 + 1


#: five groups of two filters: 5 × (2 + 2) = 20 filters with the id cursor, past HubSpot's 18: offset paging
FIVE_BY_TWO = {"any": [{"all": [{"field": "score", "gte": n}, {"field": "score", "lte": 100}]} for n in range(50, 55)]}


def test_five_narrow_groups_over_a_shared_timestamp_are_read_by_offset_whole(hs: HubSpotHarness) -> None:
    ids = _import(hs, 9_900, hs.now() - timedelta(hours=1))
    found = [r.person.ref.id for r in hs.connector().read_segment(parse_segment(FIVE_BY_TWO))]
    assert len(found) == len(set(found)) == 9_900
    assert set(found) == set(ids)
    assert not any(entry.status == 400 for entry in hs.sb.server.log)


def test_the_contact_one_millisecond_after_a_shared_timestamp_is_read(hs: HubSpotHarness) -> None:
    stamp = hs.now() - timedelta(hours=1)
    ids = _import(hs, 450, stamp)
    ids += hs.sb.state.bulk_add_contacts(
        [("next@example.com", {**MATCH, "lastmodifieddate": stamp + timedelta(milliseconds=1)})]
    )
    found = [r.person.ref.id for r in hs.connector().read_segment(parse_segment(FOUR))]
    assert sorted(found) == sorted(ids)
