"""Behaviour segments on Account Engagement v5: what v5 filters, and what is evaluated here.

v5 filters prospects on ``email``, ``id`` and the ``createdAt``/``updatedAt`` stamps only (at most three
filtered fields) [D: v5 query conventions; no score, grade or ``lastActivityAt`` filter is documented].
So a segment is answered in two parts:

* server-side: ``email`` equality (``email=``) and a lower bound on ``created_at`` (``createdAtAfterOrEqualTo``)
  when they stand at the top of the segment (alone or in an ``all``) narrow the prospect query;
  e-mail clicked, e-mail opened and form submitted are visitor activities, read with v5's own ``type``
  filter (1 click, 11 open, 4 form success [U: type numbers]) and ``createdAtAfterOrEqualTo`` when the
  segment's window bounds them;
* here: score (``score >= 100``), grade (``{field: grade, in: [A+, A, A-]}``: a letter, so "B or better"
  is written as the letters it means), ``last_activity_at`` windows (active in 30 days, no activity for
  60), names and company are evaluated on each prospect with the reference semantics
  (``mapping.segment.evaluate``).

Cost in calls: ``ceil(prospects / 1000)`` for the prospect read (or an export: about 3 calls for any size),
plus ``ceil(activities / 1000)`` per activity field used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from campaign_bridge.connectors.pardot.people import record
from campaign_bridge.connectors.pardot.reads import Reader, parse_time, stamp
from campaign_bridge.mapping.model import MemberRecord
from campaign_bridge.mapping.segment import All, AnyOf, Condition, FieldType, Not, Op, Segment, SegmentField, evaluate

#: Canonical field → the prospect field it is read from.
PROSPECT_FIELDS: dict[str, str] = {
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "company": "company",
    "score": "score",
    "grade": "grade",
    "created_at": "createdAt",
    "last_activity_at": "lastActivityAt",
}
#: Canonical field → the visitor-activity types whose latest time it is.
ACTIVITY_TYPES: dict[str, tuple[int, bool]] = {  # (type, only activities on an e-mail)
    "last_email_click_at": (1, True),
    "last_email_open_at": (11, True),
    "last_form_submitted_at": (4, False),
}
_TYPES = {
    "email": FieldType.STRING,
    "first_name": FieldType.STRING,
    "last_name": FieldType.STRING,
    "company": FieldType.STRING,
    "score": FieldType.NUMBER,
    "grade": FieldType.STRING,
    "created_at": FieldType.DATETIME,
    "last_activity_at": FieldType.DATETIME,
    "last_email_click_at": FieldType.DATETIME,
    "last_email_open_at": FieldType.DATETIME,
    "last_form_submitted_at": FieldType.DATETIME,
}
SEGMENT_FIELDS: Mapping[str, SegmentField] = {name: SegmentField(kind) for name, kind in _TYPES.items()}


def _conditions(segment: Segment) -> Iterator[Condition]:
    if isinstance(segment, Condition):
        yield segment
    elif isinstance(segment, All | AnyOf):
        for item in segment.items:
            yield from _conditions(item)
    elif isinstance(segment, Not):
        yield from _conditions(segment.item)


def _top(segment: Segment) -> list[Condition]:
    """Conditions every match must meet: the segment itself, or the direct conditions of a top ``all``."""
    if isinstance(segment, Condition):
        return [segment]
    if isinstance(segment, All):
        return [s for s in segment.items if isinstance(s, Condition)]
    return []


def server_filters(segment: Segment, now: datetime) -> dict[str, str]:
    """The v5 prospect-query filters that narrow ``segment`` without changing its answer."""
    params: dict[str, str] = {}
    for c in _top(segment):
        if c.field == "email" and c.op is Op.EQ:
            params["email"] = str(c.value)
        elif c.field == "created_at" and c.op is Op.WITHIN:
            params["createdAtAfterOrEqualTo"] = stamp(now - c.value)
        elif c.field == "created_at" and c.op in (Op.GTE, Op.GT):
            params["createdAtAfterOrEqualTo"] = stamp(parse_time(c.value) or now)
    return params


def _activity_since(segment: Segment, field: str, now: datetime) -> datetime | None:
    """The oldest activity that can matter: a top-level ``within`` window bounds it; anything else does not."""
    bounds = [now - c.value for c in _top(segment) if c.field == field and c.op is Op.WITHIN]
    return max(bounds) if bounds else None


def read_segment(reader: Reader, connection: str, segment: Segment, now: datetime) -> Iterator[MemberRecord]:
    used = {c.field for c in _conditions(segment)}
    latest: dict[str, dict[str, datetime]] = {}
    for field in sorted(used & set(ACTIVITY_TYPES)):
        type_, on_email = ACTIVITY_TYPES[field]
        stamps: dict[str, datetime] = {}
        for row in reader.activities([type_], _activity_since(segment, field, now)):
            at = parse_time(row.get("createdAt"))
            if at is None or (on_email and not row.get("emailId")):
                continue
            key = str(row.get("prospectId"))
            if key not in stamps or stamps[key] < at:
                stamps[key] = at
        latest[field] = stamps
    fields = sorted(
        {"id", "email", "salesforceId", "updatedAt", *(PROSPECT_FIELDS[f] for f in used if f in PROSPECT_FIELDS)}
    )
    for row in reader.prospects(fields, server_filters(segment, now)):
        canonical: dict[str, Any] = {name: row.get(api) for name, api in PROSPECT_FIELDS.items()}
        if canonical["score"] not in (None, ""):
            canonical["score"] = float(canonical["score"])
        for field, stamps in latest.items():
            canonical[field] = stamps.get(str(row["id"]))
        for name in ("created_at", "last_activity_at"):
            canonical[name] = parse_time(canonical[name])
        if evaluate(segment, canonical, now):
            yield MemberRecord(record(connection, row), None, parse_time(row.get("updatedAt")), False, str(row["id"]))


__all__ = ["SEGMENT_FIELDS", "read_segment", "server_filters"]
