"""Marketo's activity feed, the only change feed it has: a paging token from a date, then pages of activities.

``GET /rest/v1/activities/pagingtoken.json?sinceDatetime=…`` (one call) gives a token; each
``GET /rest/v1/activities.json?nextPageToken=…&activityTypeIds=…`` (at most ten type ids) returns up to 300
activities of those types, oldest first, with the token for the next page and ``moreResult`` while the
feed goes on. The feed is **instance-wide**: it cannot be narrowed to one static list (``listId`` selects
activities of the list's *current* members, so a lead removed from it would never be seen leaving; and from
2026-12-30 Marketo refuses ``listId`` on a list of 10,000 leads or more). A read since a moment therefore
costs the token and one call per 300 activities of the types asked for, anywhere in the instance, plus one
for the (possibly empty) last page: 2 calls when nothing happened.

Activities are purged after Marketo's retention period and a deleted lead's activities go with it (no
"Remove from List" is logged for it), so the feed serves reads since a recent watermark and the engine's
daily full read stays the source of truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from campaign_bridge.connectors.marketo.client import MarketoClient

#: Standard activity type ids (``GET /rest/v1/activities/types.json``, the same on every instance).
VISIT_WEB_PAGE, FILL_OUT_FORM, CLICK_LINK, OPEN_EMAIL, CLICK_EMAIL = 1, 2, 3, 10, 11
#: "Add to List" and "Remove from List": ``primaryAttributeValueId`` is the static list's id,
#: ``primaryAttributeValue`` its name (the type's primary attribute is "List ID").
ADD_TO_LIST, REMOVE_FROM_LIST = 24, 25
#: Activities per page (Marketo's maximum ``batchSize``).
PAGE = 300
#: Type ids per activities call (Marketo's maximum).
MAX_TYPES = 10


@dataclass(frozen=True, slots=True)
class Activity:
    id: int
    lead_id: str
    at: datetime
    type_id: int
    primary_id: str
    primary: str | None


def parse_stamp(text: str) -> datetime:
    """An ``activityDate`` (``2026-12-06T16:00:00Z``) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def feed(
    client: MarketoClient, since: datetime, types: tuple[int, ...], until: datetime | None = None
) -> Iterator[Activity]:
    """Activities of ``types`` from ``since`` on, oldest first; with ``until``, the read stops at the first
    activity past it (the next read, from a watermark at or before ``until``, picks those up)."""
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    token = client.call("GET", "/rest/v1/activities/pagingtoken.json", params={"sinceDatetime": stamp}).get(
        "nextPageToken"
    )
    while token:
        body = client.call(
            "GET",
            "/rest/v1/activities.json",
            params={"nextPageToken": token, "activityTypeIds": ",".join(map(str, types)), "batchSize": PAGE},
        )
        for row in body.get("result") or []:
            activity = Activity(
                id=int(row["id"]),
                lead_id=str(row["leadId"]),
                at=parse_stamp(str(row["activityDate"])),
                type_id=int(row["activityTypeId"]),
                primary_id=str(row.get("primaryAttributeValueId") or ""),
                primary=row.get("primaryAttributeValue"),
            )
            if until is not None and activity.at > until:
                return
            yield activity
        if not body.get("moreResult"):
            return
        token = body.get("nextPageToken")
