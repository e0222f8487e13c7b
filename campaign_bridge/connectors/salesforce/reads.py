"""Reads: campaigns with their member statuses, campaign members, segments, and people by email.

Each function takes the ``SalesforceClient`` and the connection name and answers canonical value
objects; every query is built by ``soql``/``segments`` from escaped values and paged by the client.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.connectors.salesforce import bulk
from campaign_bridge.connectors.salesforce.client import SalesforceClient
from campaign_bridge.connectors.salesforce.costs import BulkChoice
from campaign_bridge.connectors.salesforce.segments import (
    CONTACT_FIELDS,
    LEAD_FIELDS,
    SegmentTranslator,
    check_filterable,
)
from campaign_bridge.connectors.salesforce.soql import (
    chunks,
    parse_sf_datetime,
    select,
    soql_datetime,
    soql_in,
    soql_quote,
)
from campaign_bridge.mapping.model import (
    CampaignDetails,
    Container,
    ContainerKind,
    MemberRecord,
    MemberStatus,
    PersonRecord,
    RecordRef,
    normalise_email,
)
from campaign_bridge.mapping.segment import Segment

CAMPAIGN_FIELDS = [
    "Id",
    "Name",
    "Type",
    "Status",
    "IsActive",
    "StartDate",
    "EndDate",
    "BudgetedCost",
    "ActualCost",
    "ExpectedRevenue",
    # Read-only roll-ups Salesforce keeps: members with a ContactId, and with a LeadId but no ContactId.
    # Their sum is the member count, known before any member is read (it picks REST or a Bulk query job).
    "NumberOfContacts",
    "NumberOfLeads",
]
STATUS_FIELDS = ["Label", "HasResponded", "IsDefault", "SortOrder"]
# The campaign's statuses come with it, in a parent-to-child subquery: one query for campaigns and statuses.
STATUS_SUBQUERY = f"(SELECT {', '.join(STATUS_FIELDS)} FROM CampaignMemberStatuses ORDER BY SortOrder)"
MEMBER_FIELDS = [
    "Id",
    "LeadId",
    "ContactId",
    "Lead.Email",
    "Contact.Email",
    "Lead.IsConverted",
    "Lead.ConvertedContactId",
    "Status",
    "SystemModstamp",
    "IsDeleted",
]
# A Campaign record id: key prefix 701, 15 characters (case-sensitive) or 18 (with the case-safe suffix).
CAMPAIGN_ID = re.compile(r"701[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?")
LEAD_PERSON_FIELDS = ["Id", "Email", "IsConverted", "ConvertedContactId", "SystemModstamp"]
CONTACT_PERSON_FIELDS = ["Id", "Email", "SystemModstamp"]


def _date(text: Any) -> date | None:
    return date.fromisoformat(str(text)[:10]) if text else None


def _money(value: Any) -> float | None:
    return None if value is None else float(value)


def _size(row: dict[str, Any]) -> int | None:
    """NumberOfContacts + NumberOfLeads, or None when the answer lacks either."""
    contacts, leads = row.get("NumberOfContacts"), row.get("NumberOfLeads")
    return None if contacts is None or leads is None else int(contacts) + int(leads)


def _window(field: str, since: Watermark | None, until: datetime | None) -> list[str]:
    parts = []
    if since is not None:
        parts.append(f"{field} >= {soql_datetime(since.at)}")
    if since is not None and until is not None:
        parts.append(f"{field} <= {soql_datetime(until, round_up=True)}")
    return parts


def list_campaigns(client: SalesforceClient, connection: str, where: str | None = None) -> list[Container]:
    """Every campaign (or those matching the SOQL condition ``where``) with its ordered member statuses:
    one query (a page per 2000 campaigns), the statuses read by a subquery."""
    soql = select([*CAMPAIGN_FIELDS, STATUS_SUBQUERY], "Campaign", where, order_by="Name, Id")
    return [_campaign(client, connection, row) for row in client.query_records(soql)]


def find_campaigns(client: SalesforceClient, connection: str, name: str) -> list[Container]:
    """The campaigns whose Id (15 or 18 characters) or Name (any case, as SOQL compares) is ``name``:
    one query. The caller picks the exact matches."""
    where = f"Name = {soql_quote(name)}"
    if CAMPAIGN_ID.fullmatch(name):
        where = f"(Id = {soql_quote(name)} OR {where})"
    return list_campaigns(client, connection, where)


def _campaign(client: SalesforceClient, connection: str, row: dict[str, Any]) -> Container:
    nested = row.get("CampaignMemberStatuses")  # null when the campaign has no status rows
    # A nested result holds at most one batch; records_from follows its nextRecordsUrl if it has one.
    statuses = list(client.records_from(nested)) if nested else []
    ordered = sorted(statuses, key=lambda s: (s.get("SortOrder") or 0, s["Label"]))
    # rank is the position in SortOrder order: strictly increasing even where SortOrder has gaps or ties
    member_statuses = tuple(
        MemberStatus(s["Label"], bool(s.get("HasResponded")), bool(s.get("IsDefault")), rank)
        for rank, s in enumerate(ordered, start=1)
    )
    details = CampaignDetails(
        type=row.get("Type"),
        status=row.get("Status"),
        active=bool(row.get("IsActive", True)),
        start_date=_date(row.get("StartDate")),
        end_date=_date(row.get("EndDate")),
        budgeted_cost=_money(row.get("BudgetedCost")),
        actual_cost=_money(row.get("ActualCost")),
        expected_revenue=_money(row.get("ExpectedRevenue")),
    )
    return Container(
        connection=connection,
        id=row["Id"],
        name=row["Name"],
        kind=ContainerKind.CAMPAIGN,
        writable=True,
        has_status=True,
        statuses=member_statuses,
        details=details,
        size=_size(row),
    )


def member_person(connection: str, row: dict[str, Any]) -> PersonRecord:
    """The person of a CampaignMember row; a converted lead names its contact in ``converted_to``."""
    lead, contact = row.get("Lead") or {}, row.get("Contact") or {}
    lead_id, contact_id = row.get("LeadId"), row.get("ContactId")
    if lead_id and (lead.get("IsConverted") or not contact_id):
        survivor = (lead.get("ConvertedContactId") or contact_id) if lead.get("IsConverted") else None
        return PersonRecord(
            ref=RecordRef(connection, "Lead", lead_id),
            email=normalise_email(lead.get("Email") or contact.get("Email")),
            converted_to=RecordRef(connection, "Contact", survivor) if survivor else None,
        )
    return PersonRecord(
        ref=RecordRef(connection, "Contact", str(contact_id)), email=normalise_email(contact.get("Email"))
    )


def read_members(
    client: SalesforceClient,
    connection: str,
    campaign_id: str,
    since: Watermark | None,
    until: datetime | None,
    *,
    choice: BulkChoice,
    size: int | None = None,
    bulk_poll_seconds: float = bulk.DEFAULT_POLL_SECONDS,
) -> Iterator[MemberRecord]:
    """A full read (present members, ``query``) or an incremental one (``queryAll``: deletions included,
    flagged ``removed``); REST pages come ordered by (SystemModstamp, Id), a query job's rows in no order.

    A full read of a campaign whose member count ``size`` is known picks REST pages or one Bulk API 2.0
    query job up front, by ``choice``. Otherwise the first REST page tells how many rows match, and
    ``choice`` says whether one query job reads them all more cheaply than the remaining pages."""
    where = " AND ".join([f"CampaignId = {soql_quote(campaign_id)}", *_window("SystemModstamp", since, until)])
    incremental = since is not None
    ordered = select(MEMBER_FIELDS, "CampaignMember", where, "SystemModstamp, Id")
    rows: Iterable[dict[str, Any]]
    if not incremental and size is not None and choice.read_in_bulk(size):
        rows = _bulk_member_rows(client, where, incremental, bulk_poll_seconds)
    else:
        first = client.first_page(ordered, include_deleted=incremental)
        total = int(first.get("totalSize") or 0)
        if not first.get("done", True) and choice.finish_in_bulk(total):
            rows = _bulk_member_rows(client, where, incremental, bulk_poll_seconds)
        else:
            rows = client.records_from(first)
    for row in rows:
        removed = bool(row.get("IsDeleted"))
        if removed and since is None:
            continue
        yield MemberRecord(
            person=member_person(connection, row),
            status=row.get("Status"),
            modified_at=parse_sf_datetime(row.get("SystemModstamp")),
            removed=removed,
            tie_id=row["Id"],
        )


def _bulk_member_rows(client: SalesforceClient, where: str, incremental: bool, poll: float) -> Iterator[dict[str, Any]]:
    """The members ``where`` selects, through one query job, a results page at a time. Query jobs promise
    no order; nothing needs one (the engine keeps the newest stamp it has seen for its watermark)."""
    return bulk.query_rows(
        client,
        "CampaignMember",
        select(MEMBER_FIELDS, "CampaignMember", where),
        include_deleted=incremental,
        poll=poll,
    )


def _person(connection: str, sobject: str, row: dict[str, Any]) -> PersonRecord:
    converted = row.get("ConvertedContactId") if row.get("IsConverted") else None
    return PersonRecord(
        ref=RecordRef(connection, sobject, row["Id"]),
        email=normalise_email(row.get("Email")),
        converted_to=RecordRef(connection, "Contact", converted) if converted else None,
    )


def read_segment(
    client: SalesforceClient,
    connection: str,
    segment: Segment,
    now: datetime,
    since: Watermark | None,
    until: datetime | None,
) -> Iterator[MemberRecord]:
    """Leads and Contacts matching ``segment`` (see ``segments``), merged in (SystemModstamp, Id) order."""
    check_filterable(segment)
    stage_cache: dict[str, set[str]] = {}

    def stage_contacts(where: str) -> set[str]:
        if where not in stage_cache:
            soql = select(["ContactId"], "OpportunityContactRole", where)
            stage_cache[where] = {r["ContactId"] for r in client.query_records(soql) if r.get("ContactId")}
        return stage_cache[where]

    streams = []
    for sobject, fields, selected in (
        ("Lead", LEAD_FIELDS, LEAD_PERSON_FIELDS),
        ("Contact", CONTACT_FIELDS, CONTACT_PERSON_FIELDS),
    ):
        resolver = stage_contacts if sobject == "Contact" else None
        clause = SegmentTranslator(sobject, fields, now, resolver).where(segment)
        if clause is False:
            continue
        where = [*([] if clause is True else [clause]), *_window("SystemModstamp", since, until)]
        soql = select(selected, sobject, " AND ".join(where) or None, "SystemModstamp, Id")
        streams.append(_segment_rows(client, connection, sobject, soql))
    yield from heapq.merge(*streams, key=lambda r: (r.modified_at or datetime.min, r.tie_id))


def _segment_rows(client: SalesforceClient, connection: str, sobject: str, soql: str) -> Iterator[MemberRecord]:
    for row in client.query_records(soql):
        yield MemberRecord(
            person=_person(connection, sobject, row),
            modified_at=parse_sf_datetime(row.get("SystemModstamp")),
            tie_id=row["Id"],
        )


def lookup_people(
    client: SalesforceClient, connection: str, emails: Sequence[str], batch_size: int
) -> dict[str, list[PersonRecord]]:
    """Contacts, then Leads, per email: one query per object per batch. Contacts come first in each list
    because a contact is the record that survives a lead conversion."""
    wanted = list(dict.fromkeys(e for e in (normalise_email(x) for x in emails) if e))
    found: dict[str, list[PersonRecord]] = {}
    for batch in chunks(wanted, batch_size):
        listed = soql_in(batch)
        for sobject, fields in (("Contact", CONTACT_PERSON_FIELDS), ("Lead", LEAD_PERSON_FIELDS)):
            soql = select(fields, sobject, f"Email IN {listed}", "Id")
            for row in client.query_records(soql):
                email = normalise_email(row.get("Email"))
                if email is not None and email in batch:
                    found.setdefault(email, []).append(_person(connection, sobject, row))
    return found
