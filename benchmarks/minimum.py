"""The fewest API calls a first sync can make, per system, from the vendors' own limits.

Reads at the largest page, writes at the largest batch, lookups batched (the wire facts behind each
constant are in the docstring of ``minimum``). Every person already exists on both sides, so no person
is created. A first run logs in to Salesforce once; HubSpot private-app tokens need no login.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil
from typing import Any

#: Salesforce REST query page (``query``/``queryMore``): 2000 rows.
SF_QUERY_PAGE = 2000
#: Rows per results page of a Bulk API 2.0 query job, as the connector asks (``maxRecords``).
SF_BULK_RESULTS_PAGE = 50_000
#: A Bulk API 2.0 query job: create, one poll, then one call per results page.
SF_BULK_QUERY_FIXED = 2
#: A Bulk API 2.0 ingest job: create, upload, close, one poll. The poll's job info counts the rows processed
#: and failed, so when every row was processed and none failed (a first sync of people who all exist) no
#: results file needs downloading: failed results are one more call only when some row failed.
SF_BULK_INGEST = 4
#: sObject Collections: 200 records per call.
SF_COLLECTION = 200
#: Emails per lookup query: ``Email IN (…)`` travels in a GET URL, which Salesforce caps at 16 kB.
SF_LOOKUP_BATCH = 200
#: Finding a campaign and its member statuses: one query, the statuses in a parent-to-child subquery.
SF_FIND_CAMPAIGN = 1
SF_LOGIN = 1

#: HubSpot lists search (one page of up to 500 lists) finds the list.
HS_FIND_LIST = 1
#: List memberships per page (``limit`` at most 250).
HS_MEMBERS_PAGE = 250
#: Inputs per contacts batch read (by id or by email).
HS_BATCH_READ = 100
#: Record ids per memberships add/remove call (the sandbox's and HubSpot's cap).
HS_MEMBERSHIP_WRITE = 100_000


@dataclass
class Minimum:
    """The minimum per system, with the parts that make it up."""

    parts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, system: str, part: str, calls: int) -> None:
        self.parts.setdefault(system, {})[part] = calls

    def total(self, system: str) -> int:
        return sum(self.parts.get(system, {}).values())

    def against(self, system: str, calls: int, idle_calls: int) -> dict[str, Any]:
        """A first sync's ``calls`` and an idle run's on ``system``, beside this minimum: one row of a calls
        table (``calls``, ``minimum``, ``ratio``, ``idle_calls``, ``minimum_parts``)."""
        floor = self.total(system)
        return {
            "calls": calls,
            "minimum": floor,
            "ratio": round(calls / floor, 3) if floor else None,
            "idle_calls": idle_calls,
            "minimum_parts": self.parts.get(system, {}),
        }


def sf_read(rows: int) -> int:
    """Reading ``rows`` campaign members: REST pages, or one Bulk query job when that is cheaper."""
    rest = max(1, ceil(rows / SF_QUERY_PAGE))
    bulk = SF_BULK_QUERY_FIXED + max(1, ceil(rows / SF_BULK_RESULTS_PAGE))
    return min(rest, bulk)


def sf_write(changes: int) -> int:
    """Writing ``changes`` campaign members: Collections calls, or one Bulk ingest job when cheaper."""
    if changes == 0:
        return 0
    return min(ceil(changes / SF_COLLECTION), SF_BULK_INGEST)


def minimum(direction: str, members: int) -> Minimum:
    """The minimum calls of a first sync of ``members`` people in ``direction``.

    crm_to_ma (Salesforce campaign → HubSpot list): Salesforce logs in, finds the campaign and reads its
    members; HubSpot finds the list, looks every email up in batches of 100, and adds in calls of up to
    100,000 ids.

    ma_to_crm (HubSpot list → Salesforce campaign): HubSpot finds the list, pages its memberships 250 at a
    time and batch-reads the members' emails 100 at a time; Salesforce logs in, finds the campaign, looks
    the emails up among Contacts and Leads (one query per object per 200 emails) and writes the members.
    """
    m = Minimum()
    if direction == "crm_to_ma":
        m.add("sf", "login", SF_LOGIN)
        m.add("sf", "find campaign", SF_FIND_CAMPAIGN)
        m.add("sf", "read members", sf_read(members))
        m.add("hs", "find list", HS_FIND_LIST)
        m.add("hs", "lookup by email", ceil(members / HS_BATCH_READ))
        m.add("hs", "add members", ceil(members / HS_MEMBERSHIP_WRITE))
    elif direction == "ma_to_crm":
        m.add("hs", "find list", HS_FIND_LIST)
        m.add("hs", "read members", max(1, ceil(members / HS_MEMBERS_PAGE)))
        m.add("hs", "read emails", ceil(members / HS_BATCH_READ))
        m.add("sf", "login", SF_LOGIN)
        m.add("sf", "find campaign", SF_FIND_CAMPAIGN)
        m.add("sf", "lookup by email", 2 * ceil(members / SF_LOOKUP_BATCH))
        m.add("sf", "add members", sf_write(members))
    else:
        raise ValueError(f"unknown direction {direction!r}")
    return m
