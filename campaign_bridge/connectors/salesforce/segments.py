"""Canonical segments (``mapping/segment.py``) → SOQL ``WHERE`` clauses over Lead and Contact.

A segment is translated once per object. A canonical field the object lacks (``lead_status`` on a
Contact, ``opportunity_stage`` on a Lead) has no value there, exactly as ``evaluate`` treats a missing
field: ``eq`` is false, ``ne`` true, ``exists: false`` true. Such constant parts fold away (``ALL`` with a
false item is false), and an object whose whole clause is false is not queried at all.

Field map (canonical → Lead / Contact):

==================  ======================  =========================
email               Email                   Email
first_name          FirstName               FirstName
last_name           LastName                LastName
company             Company                 Account.Name
country             Country                 MailingCountry
lead_status         Status                  (none)
owner               OwnerId                 OwnerId
created_at          CreatedDate             CreatedDate
last_activity_at    LastActivityDate (Date) LastActivityDate (Date)
opportunity_stage   (none)                  via OpportunityContactRole
==================  ======================  =========================

``opportunity_stage`` path: Contacts reach opportunities through ``OpportunityContactRole``. For each
such condition the connector first runs ``SELECT ContactId FROM OpportunityContactRole WHERE
Opportunity.StageName …`` and the condition becomes ``Id IN (…)`` on Contact. A person has a stage
when *any* of their opportunities has it; ``ne``/``not_in``/``exists: false`` mean *none* of them has
it (``Id NOT IN (…)``), which includes contacts with no opportunity, as ``evaluate`` does for a missing
value. We resolve ids first instead of writing a semi-join (``Id IN (SELECT …)``) because Salesforce
forbids semi-joins under ``NOT`` and more than two per query, and a segment may need either; the cost is
a cap of ``MAX_STAGE_CONTACTS`` contacts per stage condition (past it: ``FatalError``, narrow the stage).

Fields Salesforce cannot filter on without custom fields (``score``, ``hard_bounced``, page visits…)
raise ``FatalError`` naming the field and the fields it can filter on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from campaign_bridge.connectors.kit.clauses import Clause, all_of, any_of
from campaign_bridge.connectors.salesforce.soql import (
    first_day_at_or_after,
    soql_date,
    soql_datetime,
    soql_in,
    soql_like_contains,
    soql_quote,
)
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import (
    CANONICAL_FIELDS,
    All,
    AnyOf,
    Condition,
    FieldType,
    Not,
    Op,
    Segment,
    SegmentField,
    fields_of,
)

#: At most this many contacts per ``opportunity_stage`` condition are inlined into a query (a GET whose
#: URL Salesforce accepts: about 8 KB of ids).
MAX_STAGE_CONTACTS = 300

LEAD_FIELDS: dict[str, str] = {
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "company": "Company",
    "country": "Country",
    "lead_status": "Status",
    "owner": "OwnerId",
    "created_at": "CreatedDate",
    "last_activity_at": "LastActivityDate",
}
CONTACT_FIELDS: dict[str, str] = {
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "company": "Account.Name",
    "country": "MailingCountry",
    "owner": "OwnerId",
    "created_at": "CreatedDate",
    "last_activity_at": "LastActivityDate",
}
#: Salesforce Date (not DateTime) fields: windows are compared by calendar day.
DATE_ONLY = frozenset({"LastActivityDate"})
OPPORTUNITY_STAGE = "opportunity_stage"


def _declared(field: str) -> SegmentField:
    """A filterable field as Salesforce holds it: the canonical type, a date-only field as a ``DATE``."""
    native = LEAD_FIELDS.get(field) or CONTACT_FIELDS.get(field)
    return SegmentField(FieldType.DATE if native in DATE_ONLY else CANONICAL_FIELDS[field])


#: What ``SalesforceConnector.segment_fields`` publishes: every field of the maps above, and the stage.
#: ``contains`` escapes SOQL's wildcards (``%``, ``_``), so no character is refused.
SEGMENT_FIELDS: dict[str, SegmentField] = {
    field: _declared(field) for field in (*LEAD_FIELDS, *CONTACT_FIELDS, OPPORTUNITY_STAGE)
}
FILTERABLE = frozenset(SEGMENT_FIELDS)

# A translated clause: SOQL text, or a constant when the object lacks the field.
StageResolver = Callable[[str], set[str]]


def check_filterable(segment: Segment) -> None:
    """``FatalError`` naming every field of ``segment`` Salesforce cannot filter on."""
    missing = sorted(fields_of(segment) - FILTERABLE)
    if missing:
        can = ", ".join(sorted(FILTERABLE))
        raise FatalError(f"Salesforce cannot filter people on {', '.join(missing)}; it can filter on: {can}")


def _missing_value(cond: Condition) -> bool:
    """What ``evaluate`` answers for a person without this field."""
    if cond.op is Op.EXISTS:
        return cond.value is False
    return cond.op in (Op.NE, Op.NOT_IN, Op.NOT_WITHIN)


def _literal(field: str, value: Any) -> str:
    if value is None:
        return "null"
    if field in ("CreatedDate", "LastActivityDate"):
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return soql_date(moment.date()) if field in DATE_ONLY else soql_datetime(moment)
    return soql_quote(str(value))


def condition_soql(field: str, cond: Condition, now: datetime) -> str:
    """One condition on a SOQL field that exists on the object."""
    op, value = cond.op, cond.value
    if op in (Op.WITHIN, Op.NOT_WITHIN):
        start = now - value
        bound = soql_date(first_day_at_or_after(start)) if field in DATE_ONLY else soql_datetime(start)
        return f"{field} >= {bound}" if op is Op.WITHIN else f"({field} < {bound} OR {field} = null)"
    if op is Op.EXISTS:
        return f"{field} != null" if value else f"{field} = null"
    if op in (Op.IN, Op.NOT_IN):
        if field in ("CreatedDate", "LastActivityDate"):
            listed = "(" + ", ".join(_literal(field, v) for v in value) + ")"
        else:
            listed = soql_in(str(v) for v in value)
        return f"{field} {'IN' if op is Op.IN else 'NOT IN'} {listed}"
    if op is Op.CONTAINS:
        return f"{field} LIKE {soql_like_contains(str(value))}"
    symbol = {Op.EQ: "=", Op.NE: "!=", Op.LT: "<", Op.LTE: "<=", Op.GT: ">", Op.GTE: ">="}[op]
    return f"{field} {symbol} {_literal(field, value)}"


def stage_filter(cond: Condition) -> tuple[str, bool]:
    """The positive ``OpportunityContactRole`` filter of a stage condition, and whether to negate it."""
    negate = cond.op in (Op.NE, Op.NOT_IN) or (cond.op is Op.EXISTS and cond.value is False)
    positive = {Op.NE: Op.EQ, Op.NOT_IN: Op.IN}.get(cond.op, cond.op)
    value = True if cond.op is Op.EXISTS else cond.value
    return condition_soql("Opportunity.StageName", Condition(cond.field, positive, value), datetime.min), negate


@dataclass
class SegmentTranslator:
    """Translates one segment for one object (``fields``: its canonical → SOQL map).

    ``stage_contacts`` answers the Contact ids an ``OpportunityContactRole`` filter selects (one query
    per distinct filter, cached by the caller); it is only called for the Contact translation.
    """

    sobject: str
    fields: dict[str, str]
    now: datetime
    stage_contacts: StageResolver | None = None

    def where(self, segment: Segment) -> Clause:
        """The object's clause for ``segment``: SOQL, or True (no filter) / False (no match possible).
        Raises ``FatalError`` naming every field Salesforce cannot filter on."""
        check_filterable(segment)
        return self.clause(segment)

    def clause(self, segment: Segment) -> Clause:
        if isinstance(segment, All):
            return all_of([self.clause(s) for s in segment.items], "AND")
        if isinstance(segment, AnyOf):
            return any_of([self.clause(s) for s in segment.items], "OR")
        if isinstance(segment, Not):
            inner = self.clause(segment.item)
            return (not inner) if isinstance(inner, bool) else f"(NOT {inner})"
        if segment.field == OPPORTUNITY_STAGE and self.stage_contacts is not None:
            return self._stage(segment)
        field = self.fields.get(segment.field)
        if field is None:
            check_filterable(segment)
            return _missing_value(segment)
        return condition_soql(field, segment, self.now)

    def _stage(self, cond: Condition) -> Clause:
        assert self.stage_contacts is not None
        where, negate = stage_filter(cond)
        ids = sorted(self.stage_contacts(where))
        if len(ids) > MAX_STAGE_CONTACTS:
            raise FatalError(
                f"the segment's opportunity_stage condition matches {len(ids)} contacts; at most "
                f"{MAX_STAGE_CONTACTS} can be inlined into a Salesforce query. Narrow the stage, or combine it "
                "with a source campaign instead"
            )
        if not ids:
            return negate
        return f"Id {'NOT IN' if negate else 'IN'} {soql_in(ids)}"
