"""Canonical segments as HubSpot contact searches, read completely despite the 10,000-result cap.

Translation: HubSpot's ``filterGroups`` are ORed and the filters inside a group ANDed, so a segment is
brought to disjunctive normal form (negations pushed down to the conditions, ANDs distributed over ORs).
A negated comparison also matches people without a value (``evaluate``'s meaning), which HubSpot spells
as a second group with ``NOT_HAS_PROPERTY``. HubSpot takes at most 5 groups, 6 filters per group and 18
filters in all; one filter per group is kept for the read cursor below, and a segment that does not fit
is refused up front with those numbers.

Reading: HubSpot never returns a result past the 10,000th of a query, and offset paging skips records
whenever one leaves the result set mid-read (modified past ``until``). So the read is keyset-paged:
sorted by ``lastmodifieddate`` ascending, each page asks for ``lastmodifieddate >= <last seen>`` afresh
and drops the ids already returned. A full page that shares one timestamp is walked by ``hs_object_id``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import product
from typing import Any

from campaign_bridge.connectors.hubspot.client import HubSpotClient
from campaign_bridge.connectors.hubspot.timestamps import epoch_ms, parse_time
from campaign_bridge.errors import FatalError, TransientError
from campaign_bridge.mapping.segment import (
    CANONICAL_FIELDS,
    All,
    Condition,
    FieldType,
    Not,
    Op,
    Segment,
    SegmentField,
)

#: Canonical field → HubSpot contact property.
PROPERTIES: dict[str, str] = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "company": "company",
    "country": "country",
    "lifecycle_stage": "lifecyclestage",
    "lead_status": "hs_lead_status",
    "owner": "hubspot_owner_id",
    "score": "hubspotscore",
    "created_at": "createdate",
    # "Last Activity Date": the last logged note, call, email, meeting or task.
    "last_activity_at": "notes_last_updated",
    "last_email_open_at": "hs_email_last_open_date",
    "last_email_click_at": "hs_email_last_click_date",
    # A hard bounce shows as a reason in this enumeration; HubSpot has no yes/no property for it.
    "hard_bounced": "hs_email_hard_bounce_reason_enum",
    # "Marketing emails bounced": HubSpot keeps no soft-only count, so hard bounces count here too.
    "soft_bounce_count": "hs_email_bounce",
    "last_page_visited": "hs_analytics_last_url",
    "last_page_visited_at": "hs_analytics_last_timestamp",
    "last_form_submitted": "recent_conversion_event_name",
    "last_form_submitted_at": "recent_conversion_date",
}
#: Canonical fields a HubSpot contact does not hold, and where they live instead.
UNSUPPORTED: dict[str, str] = {
    "opportunity_stage": "deal stages live on HubSpot deals, not contacts",
    "last_purchase_at": "purchases live on HubSpot deals or orders, not contacts",
    "grade": "a letter grade is Account Engagement's; HubSpot scores contacts with a number (score)",
}
#: A hard bounce is the presence of a value, not a value.
_PRESENCE_FIELDS = frozenset({"hard_bounced"})
#: ``CONTAINS_TOKEN`` reads ``*`` as a wildcard ("use wildcards (*) to complete a partial search", HubSpot's
#: search guide) and documents no escape, so a ``contains`` value holding one is refused: passed through,
#: ``contains: "*"`` became ``***`` and matched every contact with a value.
WILDCARDS = "*"

#: What ``HubSpotConnector.segment_fields`` publishes: every field of ``PROPERTIES``, as typed canonically.
SEGMENT_FIELDS: dict[str, SegmentField] = {
    field: SegmentField(CANONICAL_FIELDS[field], WILDCARDS if CANONICAL_FIELDS[field] is FieldType.STRING else "")
    for field in PROPERTIES
}

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
#: Filters per group the read cursor needs (``lastmodifieddate`` BETWEEN/GTE/LTE).
CURSOR_FILTERS = 1
#: Results per search page (HubSpot's maximum ``limit``), and the most one query ever returns.
PAGE_SIZE, RESULT_CAP = 200, 10_000
#: Distributing ANDs over ORs can explode; past this many groups, stop early (far beyond HubSpot's 5).
_EXPLOSION = 64
MODIFIED, OBJECT_ID = "lastmodifieddate", "hs_object_id"

Filter = tuple[tuple[str, Any], ...]  # a filter as a hashable, ordered set of its JSON keys
Group = tuple[Filter, ...]


def _filter(prop: str, operator: str, value: Any = None, *, values: Sequence[Any] | None = None) -> Filter:
    items: list[tuple[str, Any]] = [("propertyName", prop), ("operator", operator)]
    if values is not None:
        items.append(("values", tuple(values)))
    elif value is not None:
        items.append(("value", value))
    return tuple(items)


_NEGATED = {"EQ": "NEQ", "NEQ": "EQ", "IN": "NOT_IN", "NOT_IN": "IN", "CONTAINS_TOKEN": "NOT_CONTAINS_TOKEN"}
_COMPLEMENT = {"LT": "GTE", "LTE": "GT", "GT": "LTE", "GTE": "LT"}
_OPS = {Op.EQ: "EQ", Op.NE: "NEQ", Op.LT: "LT", Op.LTE: "LTE", Op.GT: "GT", Op.GTE: "GTE"}


def _condition(c: Condition, negate: bool, now: datetime) -> list[Group]:
    if c.field in UNSUPPORTED:
        raise FatalError(f"segment field {c.field!r} cannot be searched in HubSpot: {UNSUPPORTED[c.field]}")
    prop, kind = PROPERTIES[c.field], CANONICAL_FIELDS[c.field]
    if c.field in _PRESENCE_FIELDS:
        if c.op not in (Op.EQ, Op.NE) or not isinstance(c.value, bool):
            raise FatalError(f"write {c.field} as 'eq: true' or 'eq: false' for HubSpot (it is always known there)")
        present = c.value is (c.op is Op.EQ)
        return [((_filter(prop, "HAS_PROPERTY" if present is not negate else "NOT_HAS_PROPERTY"),))]
    if c.op is Op.EXISTS:
        present = bool(c.value) is not negate
        return [((_filter(prop, "HAS_PROPERTY" if present else "NOT_HAS_PROPERTY"),))]
    if c.op in (Op.WITHIN, Op.NOT_WITHIN):
        since = epoch_ms(now - c.value)
        inside = (c.op is Op.WITHIN) is not negate
        if inside:
            return [((_filter(prop, "GTE", since),))]
        return [((_filter(prop, "LT", since),)), ((_filter(prop, "NOT_HAS_PROPERTY"),))]

    def value(v: Any) -> str:
        if kind == "datetime":
            try:
                return epoch_ms(v)
            except ValueError:
                raise FatalError(f"segment field {c.field!r}: {v!r} is not a date or time (write 2026-01-31)") from None
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    if c.op in (Op.IN, Op.NOT_IN):
        operator = "IN" if c.op is Op.IN else "NOT_IN"
        return [((_filter(prop, _NEGATED[operator] if negate else operator, values=[value(v) for v in c.value]),))]
    if c.op is Op.CONTAINS:
        wildcard = wildcard_refusal(c.field, str(c.value))
        if wildcard:
            raise FatalError(wildcard)
        operator = "NOT_CONTAINS_TOKEN" if negate else "CONTAINS_TOKEN"
        return [((_filter(prop, operator, f"*{c.value}*"),))]
    operator = _OPS[c.op]
    if not negate:
        return [((_filter(prop, operator, value(c.value)),))]
    if operator in _COMPLEMENT:  # not (x < v): x >= v, or x has no value
        return [((_filter(prop, _COMPLEMENT[operator], value(c.value)),)), ((_filter(prop, "NOT_HAS_PROPERTY"),))]
    return [((_filter(prop, _NEGATED[operator], value(c.value)),))]


def wildcard_refusal(field: str, text: str) -> str | None:
    """Why HubSpot cannot look for ``text`` in ``field`` literally, or ``None`` when it can."""
    held = sorted({ch for ch in text if ch in WILDCARDS})
    if not held:
        return None
    shown = " ".join(held)
    return (
        f"segment field {field!r}: HubSpot's search reads {shown} in {text!r} as a wildcard and cannot escape it, "
        "so it would match far more than the text; look for the text without it"
    )


def _dnf(segment: Segment, negate: bool, now: datetime) -> list[Group]:
    if isinstance(segment, Condition):
        return _condition(segment, negate, now)
    if isinstance(segment, Not):
        return _dnf(segment.item, not negate, now)
    parts = [_dnf(item, negate, now) for item in segment.items]
    conjunction = isinstance(segment, All) is not negate  # De Morgan: a negated OR is an AND
    if not conjunction:
        return _unique([group for part in parts for group in part])
    groups: list[Group] = [()]
    for part in parts:
        if len(groups) * len(part) > _EXPLOSION:
            raise _too_big(len(groups) * len(part), 0, 0)
        groups = _unique([tuple(dict.fromkeys(a + b)) for a, b in product(groups, part)])
    return groups


def _unique(groups: list[Group]) -> list[Group]:
    return list(dict.fromkeys(groups))


def _too_big(groups: int, widest: int, total: int) -> FatalError:
    shape = f"{groups} OR-ed groups" + (f", up to {widest} filters in one, {total} in all" if widest else "")
    return FatalError(
        f"this segment needs {shape} as a HubSpot search; HubSpot allows at most {MAX_GROUPS} filter groups, "
        f"{MAX_FILTERS_PER_GROUP} filters per group and {MAX_FILTERS} filters in all, and campaign-bridge keeps "
        f"{CURSOR_FILTERS} filter per group to read past the {RESULT_CAP:,}-result cap. Simplify the segment "
        "(fewer 'any' branches; 'not' on a date or comparison adds a branch for people without a value) "
        "or split it across rules"
    )


def filter_groups(segment: Segment, now: datetime) -> list[list[dict[str, Any]]]:
    """The segment as HubSpot ``filterGroups`` (as lists of filters), evaluated at ``now``.

    Raises ``FatalError`` naming HubSpot's limits when it does not fit, or a field HubSpot lacks.
    """
    groups = _dnf(segment, False, now)
    widest, total = max(len(g) for g in groups), sum(len(g) + CURSOR_FILTERS for g in groups)
    if len(groups) > MAX_GROUPS or widest + CURSOR_FILTERS > MAX_FILTERS_PER_GROUP or total > MAX_FILTERS:
        raise _too_big(len(groups), widest, sum(len(g) for g in groups))
    return [[{k: list(v) if k == "values" else v for k, v in f} for f in group] for group in groups]


def search_all(
    client: HubSpotClient, groups: list[list[dict[str, Any]]], since: datetime | None, until: datetime | None
) -> Iterator[dict[str, Any]]:
    """Every contact matching ``groups`` with ``since <= lastmodifieddate <= until``, each once, ascending."""
    seen: set[str] = set()
    cursor = int(epoch_ms(since)) if since is not None else None
    upper = int(epoch_ms(until)) if until is not None else None
    while True:
        rows = _page(client, [g + _window(cursor, upper) for g in groups], MODIFIED)
        yield from _unseen(rows, seen)
        if len(rows) < PAGE_SIZE:
            return
        last = _modified_ms(rows[-1])
        if cursor is not None and last <= cursor:  # a whole page on one millisecond: walk it by id
            yield from _walk_tie(client, groups, cursor, seen)
            cursor += 1
        else:
            cursor = last


def _walk_tie(
    client: HubSpotClient, groups: list[list[dict[str, Any]]], stamp: int, seen: set[str]
) -> Iterator[dict[str, Any]]:
    same = {"propertyName": MODIFIED, "operator": "EQ", "value": str(stamp)}
    room = all(len(g) + 2 <= MAX_FILTERS_PER_GROUP for g in groups) and sum(len(g) + 2 for g in groups) <= MAX_FILTERS
    if not room:  # no room for an id cursor: offset paging, which the cap bounds
        after = 0
        while True:
            rows = _page(client, [[*g, same] for g in groups], OBJECT_ID, after=after)
            yield from _unseen(rows, seen)
            after += len(rows)
            if len(rows) < PAGE_SIZE:
                return
            if after + PAGE_SIZE > RESULT_CAP:
                raise FatalError(
                    f"{client.connection}: over {RESULT_CAP:,} contacts share one lastmodifieddate and the segment "
                    "leaves no filter free to page them by id; simplify the segment by one condition"
                )
    last_id = "0"
    while True:
        beyond = {"propertyName": OBJECT_ID, "operator": "GT", "value": last_id}
        rows = _page(client, [[*g, same, beyond] for g in groups], OBJECT_ID)
        yield from _unseen(rows, seen)
        if len(rows) < PAGE_SIZE:
            return
        last_id = str(rows[-1]["id"])


def _window(cursor: int | None, upper: int | None) -> list[dict[str, Any]]:
    if cursor is not None and upper is not None:
        return [{"propertyName": MODIFIED, "operator": "BETWEEN", "value": str(cursor), "highValue": str(upper)}]
    if cursor is not None:
        return [{"propertyName": MODIFIED, "operator": "GTE", "value": str(cursor)}]
    if upper is not None:
        return [{"propertyName": MODIFIED, "operator": "LTE", "value": str(upper)}]
    return []


def _page(client: HubSpotClient, groups: list[list[dict[str, Any]]], sort: str, after: int = 0) -> list[dict[str, Any]]:
    body: dict[str, Any] = {
        "filterGroups": [{"filters": g} for g in groups if g],
        "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
        "properties": ["email", MODIFIED],
        "limit": PAGE_SIZE,
    }
    if after:
        body["after"] = str(after)
    reply = client.call("contacts.search", lambda o: client.contacts_search.do_search(body, **o), search=True)
    results = reply.obj().get("results")
    if not isinstance(results, list):
        raise TransientError(f"{client.connection}: the contact search answered without 'results'")
    return [r for r in results if isinstance(r, dict) and r.get("id") is not None]


def _unseen(rows: list[dict[str, Any]], seen: set[str]) -> Iterator[dict[str, Any]]:
    for row in rows:
        key = str(row["id"])
        if key not in seen:
            seen.add(key)
            yield row


def _modified_ms(row: dict[str, Any]) -> int:
    stamp = parse_time((row.get("properties") or {}).get(MODIFIED) or row.get("updatedAt"))
    if stamp is None:
        raise TransientError(f"contact {row.get('id')} came back without a readable {MODIFIED}")
    return int(stamp.timestamp() * 1000)


def modified_at(row: dict[str, Any]) -> datetime | None:
    return parse_time((row.get("properties") or {}).get(MODIFIED) or row.get("updatedAt"))
