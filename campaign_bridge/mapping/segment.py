"""Segments: a small filter language over people and their behaviour.

A segment is a tree of conditions. Each connector translates it into its native query (SOQL ``WHERE``,
HubSpot search ``filterGroups``, OData ``$filter``); ``evaluate`` is the reference semantics, used by the
memory connectors and by tests that check a translation returns exactly the right people.

In a rule file a condition reads ``{field: score, gte: 50}``; ``{all: [...]}``, ``{any: [...]}`` and
``{not: {...}}`` combine them. Date windows: ``{field: last_form_submitted_at, within: 30d}`` (the stamp
is at most 30 days old) and ``not_within`` (older than 30 days, or never).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

Scalar = str | int | float | bool | None


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    EXISTS = "exists"
    WITHIN = "within"
    NOT_WITHIN = "not_within"


#: Canonical behaviour and profile fields. Connectors map them to native properties.
CANONICAL_FIELDS: dict[str, str] = {
    "email": "string",
    "first_name": "string",
    "last_name": "string",
    "company": "string",
    "lifecycle_stage": "string",
    "lead_status": "string",
    "owner": "string",
    "country": "string",
    "score": "number",
    "created_at": "datetime",
    "last_activity_at": "datetime",
    "last_email_open_at": "datetime",
    "last_email_click_at": "datetime",
    "hard_bounced": "bool",
    "soft_bounce_count": "number",
    "last_page_visited": "string",
    "last_page_visited_at": "datetime",
    "last_form_submitted": "string",
    "last_form_submitted_at": "datetime",
    "opportunity_stage": "string",
    "last_purchase_at": "datetime",
}

_DURATION = re.compile(r"^\s*(\d+)\s*([dhw])\s*$")


def parse_days(text: str) -> timedelta:
    """``30d``, ``12h``, ``2w`` → a timedelta; ``ValueError`` with the accepted forms otherwise."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30d, 12h or 2w")
    n, unit = int(m.group(1)), m.group(2)
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "w": timedelta(weeks=n)}[unit]


@dataclass(frozen=True, slots=True)
class Condition:
    """``field op value``; for WITHIN/NOT_WITHIN ``value`` is a timedelta window."""

    field: str
    op: Op
    value: Any = None


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Segment


Segment = Condition | All | AnyOf | Not


def parse_segment(raw: Any, path: str = "segment") -> Segment:
    """Build a segment from its rule-file form; ``ValueError`` naming the path of the first problem."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: a segment is a mapping such as {{field: score, gte: 50}}")
    keys = set(raw)
    for combinator, cls in (("all", All), ("any", AnyOf)):
        if combinator in keys:
            if keys != {combinator}:
                raise ValueError(f"{path}: '{combinator}' stands alone; nest other conditions inside it")
            items = raw[combinator]
            if not isinstance(items, list) or not items:
                raise ValueError(f"{path}.{combinator}: expected a non-empty list of conditions")
            return cls(tuple(parse_segment(it, f"{path}.{combinator}[{i}]") for i, it in enumerate(items)))
    if "not" in keys:
        if keys != {"not"}:
            raise ValueError(f"{path}: 'not' stands alone; nest other conditions inside it")
        return Not(parse_segment(raw["not"], f"{path}.not"))
    if "field" not in keys:
        raise ValueError(f"{path}: expected 'field' with one operator, or 'all', 'any' or 'not'")
    name = raw["field"]
    if name not in CANONICAL_FIELDS:
        raise ValueError(f"{path}.field: unknown field {name!r}; known fields: {', '.join(CANONICAL_FIELDS)}")
    ops = keys - {"field"}
    if len(ops) != 1:
        known = ", ".join(o.value for o in Op)
        raise ValueError(f"{path}: give exactly one operator for field {name!r} (one of {known})")
    op_name = ops.pop()
    try:
        op = Op(op_name)
    except ValueError:
        raise ValueError(f"{path}: unknown operator {op_name!r}; use one of {', '.join(o.value for o in Op)}") from None
    value = raw[op_name]
    kind = CANONICAL_FIELDS[name]
    if op in (Op.WITHIN, Op.NOT_WITHIN):
        if kind != "datetime":
            raise ValueError(f"{path}: '{op}' needs a date field; {name!r} is a {kind}")
        return Condition(name, op, parse_days(str(value)))
    if op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{path}.{op}: expected a non-empty list of values")
        return Condition(name, op, tuple(_check_scalar(v, kind, f"{path}.{op}") for v in value))
    if op is Op.EXISTS:
        if not isinstance(value, bool):
            raise ValueError(f"{path}.exists: expected true or false")
        return Condition(name, op, value)
    return Condition(name, op, _check_scalar(value, kind, f"{path}.{op}"))


def _check_scalar(value: Any, kind: str, path: str) -> Scalar:
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"{path}: expected a number, got {value!r}")
    if kind == "bool" and not isinstance(value, bool):
        raise ValueError(f"{path}: expected true or false, got {value!r}")
    if kind in ("string", "datetime") and not isinstance(value, str | int | float):
        raise ValueError(f"{path}: expected a text value, got {value!r}")
    return value  # type: ignore[no-any-return]


def fields_of(segment: Segment) -> set[str]:
    """Every canonical field the segment reads."""
    if isinstance(segment, Condition):
        return {segment.field}
    if isinstance(segment, Not):
        return fields_of(segment.item)
    out: set[str] = set()
    for item in segment.items:
        out |= fields_of(item)
    return out


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def evaluate(segment: Segment, person: Mapping[str, Any], now: datetime) -> bool:
    """The reference meaning of a segment for one person's canonical fields, at time ``now``."""
    if isinstance(segment, All):
        return all(evaluate(s, person, now) for s in segment.items)
    if isinstance(segment, AnyOf):
        return any(evaluate(s, person, now) for s in segment.items)
    if isinstance(segment, Not):
        return not evaluate(segment.item, person, now)
    value = person.get(segment.field)
    op, want = segment.op, segment.value
    if op is Op.EXISTS:
        return (value is not None and value != "") is want
    if op in (Op.WITHIN, Op.NOT_WITHIN):
        stamp = _as_datetime(value)
        if stamp is not None and stamp.tzinfo is None and now.tzinfo is not None:
            stamp = stamp.replace(tzinfo=now.tzinfo)
        inside = stamp is not None and stamp >= now - want
        return inside if op is Op.WITHIN else not inside
    if value is None:
        return op in (Op.NE, Op.NOT_IN)
    if CANONICAL_FIELDS[segment.field] == "string" and isinstance(value, str):
        value = value.casefold()
        want = tuple(w.casefold() for w in want) if isinstance(want, tuple) else str(want).casefold()
    if CANONICAL_FIELDS[segment.field] == "datetime":
        value = _as_datetime(value)
        want = _as_datetime(want) if not isinstance(want, tuple) else tuple(_as_datetime(w) for w in want)
    compare: dict[Op, bool] = {}
    if op is Op.EQ:
        return bool(value == want)
    if op is Op.NE:
        return bool(value != want)
    if op is Op.IN:
        return value in want
    if op is Op.NOT_IN:
        return value not in want
    if op is Op.CONTAINS:
        return str(want) in str(value)
    try:
        compare = {
            Op.LT: value < want,
            Op.LTE: value <= want,
            Op.GT: value > want,
            Op.GTE: value >= want,
        }
    except TypeError:
        return False
    return compare[op]
