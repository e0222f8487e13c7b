"""Behaviour segments from Marketo's activities API, profile conditions evaluated on the leads it finds.

Marketo's REST API cannot search leads by an arbitrary field, but it can list activities of chosen types
since a date: a paging token from ``sinceDatetime`` (``activities/pagingtoken.json``, one call), then
``activities.json?activityTypeIds=…`` pages of up to 300 (``moreResult``). So a segment is read in three
steps, each server-side where Marketo allows:

1. its **driver**: a ``within`` window on an activity date (clicked an e-mail, opened one, filled out a
   form, visited a page, any activity) selects the candidates: the leads with such an activity since
   ``now - window`` (activity type ids below; one call per 300 activities, plus the token);
2. the candidates' lead fields (score, company…) by id, 300 per call;
3. the whole segment evaluated on those facts (``mapping.segment.evaluate``): other windows are exact, as
   every activity since the oldest window was read.

A segment with no driver (a profile-only one such as ``score >= 50``, or "no activity for 60 days") would
need every lead of the instance; it is refused with the honest alternative: build that smart list in
Marketo and use it as the rule's source (``list: <smart list>``), which a bulk extract reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from campaign_bridge.connectors.marketo.client import MarketoClient
from campaign_bridge.connectors.marketo.leads import BATCH_SIZE, by_ids, person
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import MemberRecord
from campaign_bridge.mapping.segment import (
    CANONICAL_FIELDS,
    All,
    AnyOf,
    Condition,
    Not,
    Op,
    Segment,
    SegmentField,
    conditions,
    evaluate,
)

#: Standard activity type ids (``activities/types.json``): Visit Webpage 1, Fill Out Form 2, Click Link 3,
#: Open Email 10, Click Email 11.
ACTIVITY_TYPES: dict[str, tuple[int, ...]] = {
    "last_page_visited_at": (1,),
    "last_form_submitted_at": (2,),
    "last_email_open_at": (10,),
    "last_email_click_at": (11,),
    "last_activity_at": (1, 2, 3, 10, 11),
}
#: Facts taken from an activity's primary attribute (the form's or page's name).
NAMED = {"last_form_submitted": 2, "last_page_visited": 1}
#: Canonical field → Marketo lead field.
LEAD_FIELDS: dict[str, str] = {
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "company": "company",
    "country": "country",
    "lead_status": "leadStatus",
    "score": "leadScore",
    "created_at": "createdAt",
}
SEGMENT_FIELDS: dict[str, SegmentField] = {
    name: SegmentField(CANONICAL_FIELDS[name]) for name in (*ACTIVITY_TYPES, *NAMED, *LEAD_FIELDS)
}
ACTIVITY_PAGE = 300
#: The activities API takes at most ten type ids per call.
MAX_TYPES = 10


def _driver_window(segment: Segment) -> timedelta | None:
    """The widest window of activity the segment's members must have, or None when nothing requires one."""
    if isinstance(segment, Condition):
        if segment.field in ACTIVITY_TYPES and segment.op is Op.WITHIN:
            return segment.value if isinstance(segment.value, timedelta) else None
        return None
    if isinstance(segment, All):
        windows = [w for w in (_driver_window(s) for s in segment.items) if w is not None]
        return min(windows) if windows else None
    if isinstance(segment, AnyOf):
        found = [_driver_window(s) for s in segment.items]
        known = [w for w in found if w is not None]
        return max(known) if len(known) == len(found) else None
    assert isinstance(segment, Not)
    return None


def plan(segment: Segment) -> tuple[timedelta, tuple[int, ...]]:
    """How far back to read activities and which types; ``FatalError`` for a segment Marketo cannot select."""
    for _, cond in conditions(segment):
        if cond.field in ACTIVITY_TYPES and cond.op not in (Op.WITHIN, Op.NOT_WITHIN):
            raise FatalError(f"{cond.field} can only be used with within/not_within on Marketo (activity dates)")
    driver = _driver_window(segment)
    if driver is None:
        raise FatalError(
            "this segment selects no activity within a window (such as {field: last_email_click_at, within: 30d}), "
            "so Marketo would have to list every lead; build it as a smart list in Marketo and use the smart "
            "list as the rule's source (from: {list: <smart list name>})"
        )
    windows = [c.value for _, c in conditions(segment) if c.field in ACTIVITY_TYPES and isinstance(c.value, timedelta)]
    types = sorted({t for _, c in conditions(segment) for t in ACTIVITY_TYPES.get(c.field, ())} | _named_types(segment))
    if len(types) > MAX_TYPES:
        raise FatalError(f"a Marketo segment may read at most {MAX_TYPES} activity types")
    return max(windows), tuple(types)


def _named_types(segment: Segment) -> set[int]:
    return {NAMED[c.field] for _, c in conditions(segment) if c.field in NAMED}


def activities(client: MarketoClient, since: datetime, types: tuple[int, ...]) -> Iterator[dict[str, Any]]:
    """Activities of ``types`` since ``since``, oldest first."""
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    token = client.call("GET", "/rest/v1/activities/pagingtoken.json", params={"sinceDatetime": stamp}).get(
        "nextPageToken"
    )
    while token:
        body = client.call(
            "GET",
            "/rest/v1/activities.json",
            params={"nextPageToken": token, "activityTypeIds": ",".join(map(str, types)), "batchSize": ACTIVITY_PAGE},
        )
        yield from body.get("result") or []
        if not body.get("moreResult"):
            return
        token = body.get("nextPageToken")


def read(client: MarketoClient, connection: str, segment: Segment, now: datetime) -> Iterator[MemberRecord]:
    """The leads matching ``segment`` now (see the module's three steps)."""
    window, types = plan(segment)
    facts: dict[str, dict[str, Any]] = {}
    for activity in activities(client, now - window, types):
        lead = facts.setdefault(str(activity["leadId"]), {})
        at = datetime.fromisoformat(str(activity["activityDate"]).replace("Z", "+00:00"))
        type_id = int(activity["activityTypeId"])
        for name, ids in ACTIVITY_TYPES.items():
            if type_id in ids and (lead.get(name) is None or at >= lead[name]):
                lead[name] = at
        for name, type_named in NAMED.items():
            if type_id == type_named:
                lead[name] = activity.get("primaryAttributeValue")
    fields = ",".join(dict.fromkeys(["id", "email", *LEAD_FIELDS.values()]))
    candidates = sorted(facts, key=int)
    # 300 candidates at a time, each batch's members yielded before the next is asked for: the run looks
    # them up in the target while Marketo's window makes the next call wait.
    for i in range(0, len(candidates), BATCH_SIZE):
        rows = by_ids(client, connection, candidates[i : i + BATCH_SIZE], fields)
        for lead_id in candidates[i : i + BATCH_SIZE]:
            row = rows.get(lead_id)
            if row is None:
                continue  # deleted since its activity
            canonical = {**{name: row.get(field) for name, field in LEAD_FIELDS.items()}, **facts[lead_id]}
            if evaluate(segment, canonical, now):
                yield MemberRecord(person(connection, row), tie_id=lead_id)
