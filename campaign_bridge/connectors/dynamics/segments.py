"""Canonical segments (``mapping/segment.py``) → OData ``$filter`` over contacts and leads.

A segment is translated once per table. A canonical field the table lacks (``company`` on a contact, whose
company is its parent account) has no value there, exactly as ``evaluate`` treats a missing field: ``eq`` is
false, ``ne`` true, ``exists: false`` true; such parts fold away, and a table whose whole filter is false is
not queried. Every value is an escaped OData literal (a quote is doubled).

==================  ==================  ==================
canonical           contact             lead
==================  ==================  ==================
email               emailaddress1       emailaddress1
first_name          firstname           firstname
last_name           lastname            lastname
company             (none)              companyname
country             address1_country    address1_country
owner               _ownerid_value      _ownerid_value
created_at          createdon           createdon
==================  ==================  ==================

Behaviour fields (score, bounces, e-mail opens, forms…) live in the marketing system, not in Dynamics Sales:
``validate`` refuses them, naming the fields Dynamics can filter on. A segment is read 5,000 rows a page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from campaign_bridge.connectors.dynamics.client import in_filter, quote
from campaign_bridge.connectors.kit.clauses import Clause, all_of, any_of
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import (
    CANONICAL_FIELDS,
    All,
    AnyOf,
    Condition,
    Not,
    Op,
    Segment,
    SegmentField,
    fields_of,
)

CONTACT_FIELDS = {
    "email": "emailaddress1",
    "first_name": "firstname",
    "last_name": "lastname",
    "country": "address1_country",
    "owner": "_ownerid_value",
    "created_at": "createdon",
}
LEAD_FIELDS = {**CONTACT_FIELDS, "company": "companyname"}
TABLE_FIELDS = {"contact": CONTACT_FIELDS, "lead": LEAD_FIELDS}
#: What ``DynamicsConnector.segment_fields`` publishes. ``contains`` is OData's ``contains()``, which takes
#: every character literally, so none is refused.
SEGMENT_FIELDS: dict[str, SegmentField] = {f: SegmentField(CANONICAL_FIELDS[f]) for f in LEAD_FIELDS}
DATES = frozenset({"createdon"})


def check_filterable(segment: Segment) -> None:
    missing = sorted(fields_of(segment) - set(SEGMENT_FIELDS))
    if missing:
        can = ", ".join(sorted(SEGMENT_FIELDS))
        raise FatalError(f"Dynamics cannot filter people on {', '.join(missing)}; it can filter on: {can}")


def _literal(column: str, value: Any) -> str:
    if value is None:
        return "null"
    if column in DATES:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        # a date or moment written without a zone is UTC (as ``evaluate`` reads it), not the server's zone
        return _stamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    if column == "_ownerid_value":
        return str(value).lower()  # a GUID literal
    return quote(str(value))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition_filter(column: str, cond: Condition, now: datetime) -> str:
    op, value = cond.op, cond.value
    if op in (Op.WITHIN, Op.NOT_WITHIN):
        bound = _stamp(now - value)
        return f"{column} ge {bound}" if op is Op.WITHIN else f"({column} lt {bound} or {column} eq null)"
    if op is Op.EXISTS:
        return f"{column} ne null" if value else f"{column} eq null"
    if op in (Op.IN, Op.NOT_IN):
        prop = column.removeprefix("_").removesuffix("_value") if column.startswith("_") else column
        listed = in_filter(prop, [str(v) for v in value])
        return (
            listed if op is Op.IN else listed.replace("Microsoft.Dynamics.CRM.In(", "Microsoft.Dynamics.CRM.NotIn(", 1)
        )
    if op is Op.CONTAINS:
        return f"contains({column},{quote(str(value))})"
    symbol = {Op.EQ: "eq", Op.NE: "ne", Op.LT: "lt", Op.LTE: "le", Op.GT: "gt", Op.GTE: "ge"}[op]
    return f"{column} {symbol} {_literal(column, value)}"


def _missing_value(cond: Condition) -> bool:
    if cond.op is Op.EXISTS:
        return cond.value is False
    return cond.op in (Op.NE, Op.NOT_IN, Op.NOT_WITHIN)


def table_filter(segment: Segment, table: str, now: datetime) -> Clause:
    """The table's ``$filter`` for ``segment``: text, or True (no filter) / False (nobody)."""
    fields = TABLE_FIELDS[table]

    def clause(s: Segment) -> Clause:
        if isinstance(s, All):
            return all_of([clause(i) for i in s.items], "and")
        if isinstance(s, AnyOf):
            return any_of([clause(i) for i in s.items], "or")
        if isinstance(s, Not):
            inner = clause(s.item)
            return (not inner) if isinstance(inner, bool) else f"(not {inner})"
        column = fields.get(s.field)
        return _missing_value(s) if column is None else condition_filter(column, s, now)

    check_filterable(segment)
    return clause(segment)
