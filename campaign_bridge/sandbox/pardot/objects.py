"""The v5 query machinery every object shares: ``fields`` (required), filters, ``orderBy``, ``limit`` and
``nextPageToken`` paging, and each object's fields as the API spells them.

Facts [D] (vendor-facts.md): ``fields`` is required on every query and read; ``limit`` defaults to 200 and
is at most 1,000; the answer is ``{"values", "nextPageToken", "nextPageUrl"}``; with a page token only
``fields`` may be sent (anything else is a 400); a token replays the same page and lives 4 hours (210
expired, 211 invalid); past 100,000 records no token is given and ``Pardot-Warning: 203`` is set; more than
three filtered fields is 209. [T] (api-evangelist/pardot data model, read from the v5 object reference):
relationship fields are asked for with dot notation in ``fields`` (``prospect.email`` on a list membership),
up to three levels. [U]: filter names beyond ``updatedAt…``/``createdAt…``/``id…`` and ``email``,
``listId``, ``prospectId``, ``campaignId``, ``type``; After/Before are strict, the ``…OrEqualTo`` forms not.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from ..http import Request
from .errors import (
    INVALID_FIELDS,
    INVALID_PARAMETER,
    PAGE_TOKEN_EXPIRED,
    PAGE_TOKEN_INVALID,
    TOO_MANY_FILTERS,
    bad_request,
)
from .state import Activity, Campaign, Membership, PardotList, PardotState, Prospect, User

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
MAX_RECORDS = 100_000
MAX_FILTERED_FIELDS = 3
TOKEN_LIFETIME = timedelta(hours=4)
#: Page tokens kept; the oldest is forgotten first (then answered 211, invalid).
MAX_CURSORS = 2000


def stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _sf_kind(prefix: str) -> Callable[[Prospect], str | None]:
    return lambda p: p.salesforce_id if p.salesforce_id and p.salesforce_id.startswith(prefix) else None


PROSPECT_FIELDS: dict[str, Callable[[Prospect], Any]] = {
    "id": lambda p: p.id,
    "email": lambda p: p.email,
    "firstName": lambda p: p.first_name,
    "lastName": lambda p: p.last_name,
    "company": lambda p: p.company,
    "score": lambda p: p.score,
    "grade": lambda p: p.grade,
    "campaignId": lambda p: p.campaign_id,
    "salesforceId": lambda p: p.salesforce_id,
    "salesforceLeadId": _sf_kind("00Q"),
    "salesforceContactId": _sf_kind("003"),
    "lastActivityAt": lambda p: stamp(p.last_activity_at),
    "optedOut": lambda p: p.opted_out,
    "isDeleted": lambda p: p.is_deleted,
    "createdAt": lambda p: stamp(p.created_at),
    "updatedAt": lambda p: stamp(p.updated_at),
}
LIST_FIELDS: dict[str, Callable[[PardotList], Any]] = {
    "id": lambda x: x.id,
    "name": lambda x: x.name,
    "title": lambda x: x.title,
    "isDynamic": lambda x: x.is_dynamic,
    "createdAt": lambda x: stamp(x.created_at),
    "updatedAt": lambda x: stamp(x.updated_at),
}
CAMPAIGN_FIELDS: dict[str, Callable[[Campaign], Any]] = {
    "id": lambda c: c.id,
    "name": lambda c: c.name,
    "salesforceId": lambda c: c.salesforce_id,
    "createdAt": lambda c: stamp(c.created_at),
    "updatedAt": lambda c: stamp(c.updated_at),
}
MEMBERSHIP_FIELDS: dict[str, Callable[[Membership], Any]] = {
    "id": lambda m: m.id,
    "listId": lambda m: m.list_id,
    "prospectId": lambda m: m.prospect_id,
    "optedOut": lambda m: m.opted_out,
    "createdById": lambda m: m.created_by_id,
    "createdAt": lambda m: stamp(m.created_at),
    "updatedAt": lambda m: stamp(m.updated_at),
}
ACTIVITY_FIELDS: dict[str, Callable[[Activity], Any]] = {
    "id": lambda a: a.id,
    "prospectId": lambda a: a.prospect_id,
    "type": lambda a: a.type,
    "emailId": lambda a: a.email_id,
    "formId": lambda a: a.form_id,
    "createdAt": lambda a: stamp(a.created_at),
}

USER_FIELDS: dict[str, Callable[[User], Any]] = {
    "id": lambda u: u.id,
    "username": lambda u: u.username,
    "salesforceId": lambda u: u.salesforce_id,
    "createdAt": lambda u: stamp(u.created_at),
}


@dataclass(frozen=True, slots=True)
class ObjectType:
    """One v5 object: where its records are, its fields, its relationship and its filters."""

    name: str
    fields: dict[str, Callable[[Any], Any]]
    records: Callable[[PardotState, dict[str, str]], list[Any]]
    #: filter parameter → (field it filters, operator)
    filters: dict[str, tuple[str, str]]
    #: relationship name → (the related object's fields, how to find the related record)
    relations: dict[str, tuple[dict[str, Callable[[Any], Any]], Callable[[PardotState, Any], Any]]]


def _time_filters(*names: str) -> dict[str, tuple[str, str]]:
    out = {}
    for name in names:
        out[f"{name}After"] = (name, "gt")
        out[f"{name}AfterOrEqualTo"] = (name, "gte")
        out[f"{name}Before"] = (name, "lt")
        out[f"{name}BeforeOrEqualTo"] = (name, "lte")
    return out


_ID_FILTERS = {"idGreaterThan": ("id", "gt"), "idLessThan": ("id", "lt")}


def _members(state: PardotState, params: dict[str, str]) -> list[Membership]:
    if "listId" in params:
        try:
            list_id = int(params["listId"])
        except ValueError:
            raise bad_request(INVALID_PARAMETER, "Invalid value for listId") from None
        return state.members(list_id) if list_id in state.lists else []
    for list_id, pardot_list in state.lists.items():
        if pardot_list.is_dynamic:
            state.members(list_id)
    return list(state.memberships.values())


OBJECTS: dict[str, ObjectType] = {
    "prospects": ObjectType(
        "prospects",
        PROSPECT_FIELDS,
        lambda s, p: [x for x in s.prospects.values() if p.get("deleted") == "all" or not x.is_deleted],
        {
            **_ID_FILTERS,
            **_time_filters("createdAt", "updatedAt"),
            "email": ("email", "ieq"),
            "campaignId": ("campaignId", "eq"),
        },
        {"campaign": (CAMPAIGN_FIELDS, lambda s, p: s.campaigns.get(p.campaign_id))},
    ),
    "lists": ObjectType(
        "lists", LIST_FIELDS, lambda s, p: list(s.lists.values()), {**_ID_FILTERS, **_time_filters("updatedAt")}, {}
    ),
    "campaigns": ObjectType(
        "campaigns",
        CAMPAIGN_FIELDS,
        lambda s, p: list(s.campaigns.values()),
        {**_ID_FILTERS, **_time_filters("updatedAt")},
        {},
    ),
    "list-memberships": ObjectType(
        "list-memberships",
        MEMBERSHIP_FIELDS,
        _members,
        {
            **_ID_FILTERS,
            **_time_filters("createdAt", "updatedAt"),
            "listId": ("listId", "eq"),
            "prospectId": ("prospectId", "eq"),
        },
        {
            "prospect": (PROSPECT_FIELDS, lambda s, m: s.prospects.get(m.prospect_id)),
            "createdBy": (USER_FIELDS, lambda s, m: s.users.get(m.created_by_id)),
        },
    ),
    "users": ObjectType("users", USER_FIELDS, lambda s, p: list(s.users.values()), {**_ID_FILTERS}, {}),
    "visitor-activities": ObjectType(
        "visitor-activities",
        ACTIVITY_FIELDS,
        lambda s, p: list(s.activities.values()),
        {**_ID_FILTERS, **_time_filters("createdAt"), "prospectId": ("prospectId", "eq"), "type": ("type", "in")},
        {"prospect": (PROSPECT_FIELDS, lambda s, a: s.prospects.get(a.prospect_id))},
    ),
}


def parse_fields(obj: ObjectType, raw: str | None) -> list[str]:
    """The requested fields, checked; ``fields`` is required."""
    if not raw:
        raise bad_request(INVALID_FIELDS, "The fields parameter is required")
    names = [f.strip() for f in raw.split(",") if f.strip()]
    for name in names:
        base, _, sub = name.partition(".")
        known = obj.relations[base][0] if sub and base in obj.relations else obj.fields
        if (sub or base) not in known:
            raise bad_request(INVALID_FIELDS, f"Invalid fields for request type: {name}")
    return names


def render(state: PardotState, obj: ObjectType, record: Any, fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        base, _, sub = name.partition(".")
        if sub:
            related_fields, find = obj.relations[base]
            related = find(state, record)
            out.setdefault(base, {} if related is not None else None)
            if related is not None:
                out[base][sub] = related_fields[sub](related)
        else:
            out[name] = obj.fields[name](record)
    return out


def _value(obj: ObjectType, field: str, record: Any) -> Any:
    value = obj.fields[field](record)
    return datetime.fromisoformat(value) if field.endswith("At") and isinstance(value, str) else value


def parse_value(field: str, op: str, raw: str) -> Any:
    try:
        if field.endswith("At"):
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                raise ValueError
            return parsed
        if op == "in":
            return {int(v) for v in raw.split(",")}
        if field in ("id", "listId", "prospectId", "campaignId"):
            return int(raw)
        return raw
    except ValueError:
        raise bad_request(INVALID_PARAMETER, f"Invalid value for {field}: {raw}") from None


def _matches(value: Any, op: str, wanted: Any) -> bool:
    if op == "ieq":
        return isinstance(value, str) and value.lower() == str(wanted).strip().lower()
    if op == "in":
        return bool(value in wanted)
    if value is None:
        return False
    return bool(
        {
            "eq": value == wanted,
            "gt": value > wanted,
            "gte": value >= wanted,
            "lt": value < wanted,
            "lte": value <= wanted,
        }[op]
    )


def _sort_key(obj: ObjectType, name: str) -> Callable[[Any], tuple[bool, Any]]:
    def key(record: Any) -> tuple[bool, Any]:
        value = _value(obj, name, record)
        return (value is not None, value if value is not None else 0)

    return key


@dataclass(slots=True)
class Cursor:
    obj: str
    fields: list[str]
    ids: list[Any]  # the query's records, in order, taken when it was first asked
    offset: int
    limit: int
    created: datetime


RESERVED = {"fields", "orderBy", "limit", "nextPageToken", "deleted", "offset"}


def query(
    state: PardotState, obj: ObjectType, request: Request, base_url: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """One page of a v5 query: the body and any extra headers."""
    params = {k: v[0] for k, v in request.query.items()}
    token = params.get("nextPageToken")
    if token is not None:
        extra = set(params) - {"nextPageToken", "fields"}
        if extra:
            raise bad_request(
                INVALID_PARAMETER, f"Only fields may be sent with nextPageToken, not {', '.join(sorted(extra))}"
            )
        cursor = state.cursors.get(token)
        if cursor is None or cursor.obj != obj.name:
            raise bad_request(PAGE_TOKEN_INVALID, "The nextPageToken is invalid")
        if state.now() - cursor.created > TOKEN_LIFETIME:
            raise bad_request(PAGE_TOKEN_EXPIRED, "The nextPageToken has expired")
        fields = parse_fields(obj, params.get("fields")) if "fields" in params else cursor.fields
        return _page(state, obj, cursor, fields, base_url)
    fields = parse_fields(obj, params.get("fields"))
    try:
        limit = int(params.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise bad_request(INVALID_PARAMETER, "Invalid value for limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(INVALID_PARAMETER, f"limit must be between 1 and {MAX_LIMIT}")
    filters = []
    for name, raw in params.items():
        if name in RESERVED:
            continue
        if name not in obj.filters:
            raise bad_request(INVALID_PARAMETER, f"Invalid query parameter: {name}")
        field, op = obj.filters[name]
        filters.append((field, op, parse_value(field, op, raw)))
    if len({f for f, _, _ in filters}) > MAX_FILTERED_FIELDS:
        raise bad_request(TOO_MANY_FILTERS, "Too many filtered fields; at most 3 are allowed")
    records = [r for r in obj.records(state, params) if all(_matches(_value(obj, f, r), op, w) for f, op, w in filters)]
    order = [o.strip() for o in params.get("orderBy", "id").split(",") if o.strip()]
    for term in reversed(order):
        name, _, direction = term.partition(" ")
        if name not in obj.fields:
            raise bad_request(INVALID_PARAMETER, f"Invalid orderBy field: {name}")
        records.sort(key=_sort_key(obj, name), reverse=direction.strip().upper() == "DESC")
    cursor = Cursor(obj.name, fields, records, 0, limit, state.now())
    return _page(state, obj, cursor, fields, base_url)


def _page(
    state: PardotState, obj: ObjectType, cursor: Cursor, fields: list[str], base_url: str
) -> tuple[dict[str, Any], dict[str, str]]:
    end = min(cursor.offset + cursor.limit, len(cursor.ids), MAX_RECORDS)
    values = [render(state, obj, r, fields) for r in cursor.ids[cursor.offset : end]]
    body: dict[str, Any] = {"values": values, "nextPageToken": None, "nextPageUrl": None}
    headers: dict[str, str] = {}
    if end < len(cursor.ids):
        if end >= MAX_RECORDS:
            headers["Pardot-Warning"] = "203"
        else:
            token = secrets.token_urlsafe(24)
            state.cursors[token] = Cursor(cursor.obj, cursor.fields, cursor.ids, end, cursor.limit, cursor.created)
            while len(state.cursors) > MAX_CURSORS:
                del state.cursors[next(iter(state.cursors))]
            body["nextPageToken"] = token
            body["nextPageUrl"] = f"{base_url}/api/v5/objects/{obj.name}?nextPageToken={quote(token)}"
    return body, headers
