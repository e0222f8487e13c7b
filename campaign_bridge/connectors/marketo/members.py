"""Reading a container's members: 300-lead pages, or one bulk lead extract where it saves calls.

* a static list: Get Leads by List (``/rest/v1/lists/{id}/leads.json``, 300 per page, ``nextPageToken``);
* a program: Get Leads by Program (``/rest/v1/leads/programs/{id}.json``), each lead with its
  ``membership.progressionStatus``, so a page gives email and status at once;
* a smart list: only a bulk lead extract can read it (``filter: {smartListId}``).

A bulk extract is four calls whatever the size (create, enqueue, status until ``Completed``, file). Marketo
does not say how big a static list is, so its first 300-lead page is read as usual; when more remain and
``bulk_read_threshold`` is set, the rest comes from one export (``filter: {staticListId}``, leads already
read skipped), which beats paging past about 1,500 members. Each export spends the instance's daily export
allowance (500 MB by default): when Marketo says it is spent (1029), the read goes on page by page instead.
A full read sees removals by absence; Marketo keeps no membership stamp, so its records carry none.

Between full reads a **static list** is read from the activity feed (``changes``, ``activities.py``): every
add and removal logs "Add to List" (type 24) or "Remove from List" (25) with the list's id as
``primaryAttributeValueId``. What was checked: the type ids and names against the Adobe Experience Platform
Marketo field-mapping page (24 and 25 among the system activity types) and Stitch's Marketo schema notes
(Add to List / Remove from List "can be used to discover lead list membership"); the primary attribute
("List ID") against the types endpoint's shape in Adobe's activities page, which says only that
``primaryAttributeValueId``'s meaning varies by type. That the value is the list's id is the one fact here
not spelled out in Adobe's pages. The cost: the token, one call per 300 list adds or removals *anywhere in the
instance* since the watermark (the feed cannot be narrowed to one list), one last page, and the changed
leads by id, 300 per call; an idle run is 2 calls. On an instance where lists churn by tens of thousands a
day, an incremental read can cost more than the full one; the engine's daily full read bounds the drift.
**Smart lists and programs are always read in full.** A smart list has no feed: its membership changes
when a lead's data or behaviour does, and Marketo logs nothing about the list. Programs log status changes
("Change Status in Progression"), but that feed is not read here, so a program source is read in full too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from campaign_bridge.connectors.marketo.activities import ADD_TO_LIST, REMOVE_FROM_LIST, feed
from campaign_bridge.connectors.marketo.client import MarketoClient
from campaign_bridge.connectors.marketo.containers import SMART_PREFIX
from campaign_bridge.connectors.marketo.extract import extract
from campaign_bridge.connectors.marketo.leads import LEAD, by_ids, person
from campaign_bridge.errors import FatalError, QuotaExhaustedError
from campaign_bridge.mapping.model import Container, ContainerKind, MemberRecord, PersonRecord, RecordRef

log = logging.getLogger(__name__)

PAGE = 300


def list_pages(client: MarketoClient, list_id: str) -> Iterator[list[dict[str, Any]]]:
    params: dict[str, Any] = {"batchSize": PAGE, "fields": "id,email"}
    while True:
        body = client.call("GET", f"/rest/v1/lists/{list_id}/leads.json", params=params)
        yield body.get("result") or []
        token = body.get("nextPageToken")
        if not token:
            return
        params["nextPageToken"] = token


def program_pages(client: MarketoClient, program_id: str) -> Iterator[list[dict[str, Any]]]:
    params: dict[str, Any] = {"batchSize": PAGE, "fields": "id,email"}
    while True:
        body = client.call("GET", f"/rest/v1/leads/programs/{program_id}.json", params=params)
        yield body.get("result") or []
        token = body.get("nextPageToken")
        if not token:
            return
        params["nextPageToken"] = token


def read(client: MarketoClient, connection: str, container: Container, *, bulk: bool) -> Iterator[MemberRecord]:
    """Every member of ``container`` (``bulk``: through an export job)."""
    if container.kind is ContainerKind.DYNAMIC_LIST:
        smart_id = container.id.removeprefix(SMART_PREFIX)
        for row in export(client, connection, {"smartListId": int(smart_id)}):
            yield MemberRecord(person(connection, row), tie_id=str(row["id"]))
        return
    if container.kind is ContainerKind.STATIC_LIST:
        seen: set[str] = set()
        pages = list_pages(client, container.id)
        for number, page in enumerate(pages):
            for row in page:
                seen.add(str(row["id"]))
                yield MemberRecord(person(connection, row), tie_id=str(row["id"]))
            if number == 0 and bulk and len(page) == PAGE:
                rows = _exported(client, connection, {"staticListId": int(container.id)})
                if rows is not None:
                    for row in rows:
                        if str(row["id"]) not in seen:
                            yield MemberRecord(person(connection, row), tie_id=str(row["id"]))
                    return
        return
    if container.kind is ContainerKind.PROGRAM:
        for page in program_pages(client, container.id):
            for row in page:
                membership = row.get("membership")
                status = membership.get("progressionStatus") if isinstance(membership, dict) else None
                yield MemberRecord(person(connection, row), status=status, tie_id=str(row["id"]))
        return
    raise FatalError(f"{connection}: {container.name!r} ({container.kind}) has no members to read")


def has_feed(container: Container) -> bool:
    """Whether ``changes`` can read ``container`` since a moment: static lists only."""
    return container.kind is ContainerKind.STATIC_LIST


def changes(
    client: MarketoClient, connection: str, container: Container, since: datetime, until: datetime | None
) -> Iterator[MemberRecord]:
    """The static list's memberships that changed in ``[since, until]``, from its Add to List / Remove from
    List activities: each lead's last action wins (by date, then activity id), stamped with its date, ordered
    by (stamp, lead id). A lead Marketo no longer has is a removal."""
    if not has_feed(container):
        raise FatalError(f"{connection}: {container.name!r} ({container.kind}) has no change feed to read")
    last: dict[str, tuple[datetime, int, bool]] = {}
    for activity in feed(client, since, (ADD_TO_LIST, REMOVE_FROM_LIST), until):
        if activity.primary_id != container.id:
            continue
        seen = last.get(activity.lead_id)
        if seen is None or (activity.at, activity.id) >= seen[:2]:
            last[activity.lead_id] = (activity.at, activity.id, activity.type_id == ADD_TO_LIST)
    rows = by_ids(client, connection, list(last))
    for lead_id in sorted(last, key=lambda i: (last[i][0], i)):
        at, _, added = last[lead_id]
        row = rows.get(lead_id)
        if row is None:
            gone = PersonRecord(RecordRef(connection, LEAD, lead_id), None, deleted=True)
            yield MemberRecord(gone, modified_at=at, removed=True, tie_id=lead_id)
        else:
            yield MemberRecord(person(connection, row), modified_at=at, removed=not added, tie_id=lead_id)


def _exported(client: MarketoClient, connection: str, filter: dict[str, Any]) -> list[dict[str, str]] | None:
    """An export's rows, or None when the daily export allowance is spent (the caller pages instead)."""
    try:
        return list(export(client, connection, filter))
    except QuotaExhaustedError as exc:
        if "export" not in str(exc).lower():
            raise
        log.warning("%s: %s; reading page by page instead", connection, exc)
        return None


def export(client: MarketoClient, connection: str, filter: dict[str, Any]) -> Iterator[dict[str, str]]:
    """The rows (id, email) of one bulk lead extract job (``extract``)."""
    return extract(client, connection, "leads", {"fields": ["id", "email"], "format": "CSV", "filter": filter})
