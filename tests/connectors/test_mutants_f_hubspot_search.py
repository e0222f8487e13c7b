"""A HubSpot segment read whole when the contacts' modification order is not their id order: the search
must ask HubSpot to sort by ``lastmodifieddate``, since each next page starts at the last stamp seen."""

from __future__ import annotations

from datetime import timedelta

from campaign_bridge.mapping.segment import parse_segment
from tests.contract.harness_hubspot import HubSpotHarness


def test_a_segment_is_read_whole_when_older_contacts_were_modified_later(hs: HubSpotHarness) -> None:
    start = hs.now() - timedelta(days=1)
    # 250 contacts, each created after the one before but modified before it: the newest id is the oldest
    # stamp, so a page in id order would end on a stamp later than the contacts left for the next page
    ids = hs.sb.state.bulk_add_contacts(
        [
            (f"p{i}@example.com", {"hubspotscore": 70, "lastmodifieddate": start + timedelta(seconds=250 - i)})
            for i in range(250)
        ]
    )
    conn = hs.connector()

    found = [r.person.ref.id for r in conn.read_segment(parse_segment({"field": "score", "gte": 50}))]

    assert sorted(found) == sorted(ids)
    assert conn.usage().by_endpoint == {"contacts.search": 2}  # two pages, counted as searches
