"""Segments: a small filter language over people and their behaviour.

A segment is a tree of conditions. Each connector translates it into its native query (SOQL ``WHERE``,
HubSpot search ``filterGroups``, OData ``$filter``); ``evaluate`` is the reference semantics, used by the
memory connectors and by tests that check a translation returns exactly the right people.

In a rule file a condition reads ``{field: score, gte: 50}``; ``{all: [...]}``, ``{any: [...]}`` and
``{not: {...}}`` combine them. Date windows: ``{field: last_form_submitted_at, within: 30d}`` (the stamp
is at most 30 days old) and ``not_within`` (older than 30 days, or never).

Values are checked by their field's type when the segment is parsed (a date is an ISO date or date-time,
a number is finite, a window is from 1h to ``MAX_WINDOW``), so a connector's translation never meets a
value it cannot read: a problem is a ``SegmentError`` carrying where in the segment it is, which the config
loader turns into the line of the file.

Which fields a system can filter on, and as what type, each connector declares
(``Connector.segment_fields``: canonical field → ``SegmentField``); ``validate`` refuses any other.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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


class FieldType(StrEnum):
    """What a field holds, which decides the values and operators a condition on it may use."""

    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    #: A calendar day: a system's date-only field (Salesforce ``LastActivityDate``), compared by day.
    DATE = "date"
    BOOL = "bool"


@dataclass(frozen=True, slots=True)
class SegmentField:
    """A canonical field as one system can filter on it (``Connector.segment_fields``).

    ``wildcards``: characters a ``contains`` value cannot hold on this system, because its search reads
    them as wildcards and has no way to escape them (HubSpot's ``CONTAINS_TOKEN`` and ``*``). Characters a
    translation escapes (SOQL's ``%`` and ``_``) are not listed: they match themselves.
    """

    type: FieldType
    wildcards: str = ""


#: Canonical behaviour and profile fields. Connectors map them to native properties.
CANONICAL_FIELDS: dict[str, FieldType] = {
    "email": FieldType.STRING,
    "first_name": FieldType.STRING,
    "last_name": FieldType.STRING,
    "company": FieldType.STRING,
    "lifecycle_stage": FieldType.STRING,
    "lead_status": FieldType.STRING,
    "owner": FieldType.STRING,
    "country": FieldType.STRING,
    "score": FieldType.NUMBER,
    "grade": FieldType.STRING,  # Account Engagement's letter grade (A+ … F): compare with eq/in
    "created_at": FieldType.DATETIME,
    "last_activity_at": FieldType.DATETIME,
    "last_email_open_at": FieldType.DATETIME,
    "last_email_click_at": FieldType.DATETIME,
    "hard_bounced": FieldType.BOOL,
    "soft_bounce_count": FieldType.NUMBER,
    "last_page_visited": FieldType.STRING,
    "last_page_visited_at": FieldType.DATETIME,
    "last_form_submitted": FieldType.STRING,
    "last_form_submitted_at": FieldType.DATETIME,
    "opportunity_stage": FieldType.STRING,
    "last_purchase_at": FieldType.DATETIME,
}

#: The widest ``within`` / ``not_within`` window: ten years is older than any behaviour a marketing
#: system keeps (activity history is purged after two to five years).
MAX_WINDOW = timedelta(days=3650)
#: A window's count has at most this many digits (``int`` refuses 4,300, and any more is past ``MAX_WINDOW``).
_MAX_WINDOW_DIGITS = 9

Where = tuple[str | int, ...]


class SegmentError(ValueError):
    """A segment that cannot be used; ``where`` is the path of the problem inside the segment's mapping
    (``("all", 0, "gte")``), for the loader to find its line."""

    def __init__(self, message: str, where: Where = ()) -> None:
        super().__init__(message)
        self.where = where


def _shown(where: Where) -> str:
    """``("all", 0, "gte")`` → ``segment.all[0].gte``: the path as the messages spell it."""
    text = "segment"
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


_DURATION = re.compile(r"^\s*(\d+)\s*([dhw])\s*$")


def parse_days(text: str) -> timedelta:
    """``30d``, ``12h``, ``2w`` → a timedelta from 1h to ``MAX_WINDOW``; ``ValueError`` naming the accepted
    forms or the range otherwise."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30d, 12h or 2w")
    digits, unit = m.group(1).lstrip("0") or "0", m.group(2)
    too_long = f"a within/not_within window is longer than {MAX_WINDOW.days}d"
    if len(digits) > _MAX_WINDOW_DIGITS:
        raise ValueError(too_long)
    n = int(digits)
    window = {"d": timedelta(days=n), "h": timedelta(hours=n), "w": timedelta(weeks=n)}[unit]
    if window > MAX_WINDOW:
        raise ValueError(too_long)
    if not window:
        raise ValueError(
            f"a window of {text.strip()} matches nobody (within) or everybody (not_within); the shortest is 1h"
        )
    return window


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


def parse_segment(raw: Any, where: Where = ()) -> Segment:
    """Build a segment from its rule-file form; ``SegmentError`` (a ``ValueError``) naming the path of the
    first problem, in the message and in ``where``."""
    path = _shown(where)
    if not isinstance(raw, Mapping):
        raise SegmentError(f"{path}: a segment is a mapping such as {{field: score, gte: 50}}", where)
    keys = set(raw)
    for combinator, cls in (("all", All), ("any", AnyOf)):
        if combinator in keys:
            if keys != {combinator}:
                raise SegmentError(f"{path}: '{combinator}' stands alone; nest other conditions inside it", where)
            items = raw[combinator]
            if not isinstance(items, list) or not items:
                raise SegmentError(
                    f"{path}.{combinator}: expected a non-empty list of conditions", (*where, combinator)
                )
            return cls(tuple(parse_segment(it, (*where, combinator, i)) for i, it in enumerate(items)))
    if "not" in keys:
        if keys != {"not"}:
            raise SegmentError(f"{path}: 'not' stands alone; nest other conditions inside it", where)
        return Not(parse_segment(raw["not"], (*where, "not")))
    if "field" not in keys:
        raise SegmentError(f"{path}: expected 'field' with one operator, or 'all', 'any' or 'not'", where)
    name = raw["field"]
    if name not in CANONICAL_FIELDS:
        known = ", ".join(CANONICAL_FIELDS)
        raise SegmentError(f"{path}.field: unknown field {name!r}; known fields: {known}", (*where, "field"))
    ops = keys - {"field"}
    if len(ops) != 1:
        known = ", ".join(o.value for o in Op)
        raise SegmentError(f"{path}: give exactly one operator for field {name!r} (one of {known})", where)
    op_name = ops.pop()
    try:
        op = Op(op_name)
    except ValueError:
        known = ", ".join(o.value for o in Op)
        raise SegmentError(f"{path}: unknown operator {op_name!r}; use one of {known}", (*where, op_name)) from None
    return Condition(name, op, _operand(name, op, raw[op_name], (*where, op_name)))


def _operand(name: str, op: Op, value: Any, where: Where) -> Any:
    """The value of ``name op value``, checked against the field's type (dates normalised to ISO text)."""
    path, kind = _shown(where), CANONICAL_FIELDS[name]
    if op is Op.EXISTS:
        if not isinstance(value, bool):
            raise SegmentError(f"{path}: expected true or false", where)
        return value
    if op in (Op.WITHIN, Op.NOT_WITHIN):
        if kind is not FieldType.DATETIME:
            raise SegmentError(f"{_shown(where[:-1])}: '{op}' needs a date field; {name!r} is a {kind}", where)
        try:
            return parse_days(str(value))
        except ValueError as exc:
            raise SegmentError(f"{path}: {exc}", where) from None
    if op is Op.CONTAINS:
        if kind is not FieldType.STRING:
            raise SegmentError(f"{_shown(where[:-1])}: 'contains' needs a text field; {name!r} is a {kind}", where)
        if not isinstance(value, str) or not value:
            raise SegmentError(
                f"{path}: expected some text to look for, got {value!r} (an empty one matches everyone)", where
            )
        return value
    if kind is FieldType.BOOL and op in (Op.LT, Op.LTE, Op.GT, Op.GTE):
        raise SegmentError(
            f"{_shown(where[:-1])}: '{op}' compares numbers, dates or text; {name!r} is true or false", where
        )
    if op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list) or not value:
            raise SegmentError(f"{path}: expected a non-empty list of values", where)
        return tuple(_scalar(v, kind, (*where, i)) for i, v in enumerate(value))
    return _scalar(value, kind, where)


def _scalar(value: Any, kind: FieldType, where: Where) -> Scalar:
    """One value for a field of type ``kind``; dates and date-times become ISO text."""
    path = _shown(where)
    if kind is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise SegmentError(f"{path}: expected a number, got {value!r}", where)
        return value
    if kind is FieldType.BOOL:
        if not isinstance(value, bool):
            raise SegmentError(f"{path}: expected true or false, got {value!r}", where)
        return value
    if kind in (FieldType.DATETIME, FieldType.DATE):
        return _iso_moment(value, where)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise SegmentError(f"{path}: expected a text value, got {value!r}", where)
    return value


def _iso_moment(value: Any, where: Where) -> str:
    """An ISO date (``2026-01-31``) or date-time (``2026-01-31T09:00:00Z``), read as every translation
    reads it, as text; YAML's own dates (written unquoted) are accepted too."""
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return text
    raise SegmentError(
        f"{_shown(where)}: expected a date such as 2026-01-31 or a date-time such as 2026-01-31T09:00:00Z, "
        f"got {value!r} (for a moment relative to now, use within or not_within)",
        where,
    )


def conditions(segment: Segment, where: Where = ()) -> Iterator[tuple[Where, Condition]]:
    """Every condition of ``segment`` with its path in the rule-file form (``("any", 1, "not")``)."""
    if isinstance(segment, Condition):
        yield where, segment
    elif isinstance(segment, Not):
        yield from conditions(segment.item, (*where, "not"))
    else:
        key = "all" if isinstance(segment, All) else "any"
        for i, item in enumerate(segment.items):
            yield from conditions(item, (*where, key, i))


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


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


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
    if CANONICAL_FIELDS[segment.field] is FieldType.STRING and isinstance(value, str):
        value = value.casefold()
        want = tuple(w.casefold() for w in want) if isinstance(want, tuple) else str(want).casefold()
    if CANONICAL_FIELDS[segment.field] is FieldType.DATETIME:
        # a moment without a zone is UTC, as the translations read it: a date written in the rule
        # (2026-01-31) compares with a system's stamped moment instead of failing the comparison
        value = _utc(_as_datetime(value))
        want = _utc(_as_datetime(want)) if not isinstance(want, tuple) else tuple(_utc(_as_datetime(w)) for w in want)
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
