"""Writes through sObject Collections: campaign membership changes and new Leads.

Every request is ``allOrNone: false``, so one bad record never sinks the other 199: Salesforce answers
HTTP 200 with one SaveResult per record, in request order, and each failure becomes that change's
outcome (its ``statusCode`` and ``message``), not an exception.

Per batch of at most 200 changes: one query finds the existing members when the batch holds status
changes or removals; then at most one create, one update and one delete call; and one more query only
when creates hit ``DUPLICATE_VALUE`` (someone added the person meanwhile), to report their status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from simple_salesforce.api import Salesforce

from campaign_bridge.connectors.salesforce.client import SalesforceClient
from campaign_bridge.connectors.salesforce.costs import COLLECTION_RECORDS
from campaign_bridge.connectors.salesforce.soql import select, soql_in, soql_quote
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import (
    Change,
    ChangeAction,
    ChangeOutcome,
    Container,
    CreateOutcome,
    OutcomeState,
    PersonDraft,
    PersonRecord,
    RecordRef,
    normalise_email,
)

#: Collections takes at most this many records per call (the cost model's count).
COLLECTION_LIMIT = COLLECTION_RECORDS
#: Placeholder for a Lead's required LastName/Company when the source has none; it marks the record
#: so a person can find and complete it (``WHERE LastName = '[not provided]'``).
NOT_PROVIDED = "[not provided]"
#: Per-record errors worth retrying unchanged on a later run: they say nothing about the record.
RETRYABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG", "SERVER_UNAVAILABLE"})
ID_FIELD = {"Lead": "LeadId", "Contact": "ContactId"}


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    status: str | None
    created_by: str | None = None  # CreatedById: the user who put the person in the campaign


def save_error(result: dict[str, Any]) -> tuple[str, str]:
    """``(statusCode, message)`` of a failed SaveResult."""
    errors = result.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    return str(first.get("statusCode") or "UNKNOWN_ERROR"), str(first.get("message") or "no message")


def _failure(change: Change, result: dict[str, Any]) -> ChangeOutcome:
    code, message = save_error(result)
    state = OutcomeState.FAILED if code in RETRYABLE_CODES else OutcomeState.REJECTED
    return ChangeOutcome(change, state, code=code, message=message)


def _results(client: SalesforceClient, method: str, sent: int, **kwargs: Any) -> list[dict[str, Any]]:
    """Call Collections; the answer must hold one SaveResult per record sent."""
    answer = client.call("composite/sobjects", lambda sf: sf.restful("composite/sobjects", method=method, **kwargs))
    if not isinstance(answer, list) or len(answer) != sent:
        got = len(answer) if isinstance(answer, list) else type(answer).__name__
        raise TransientError(f"{client.name}: Salesforce Collections answered {got} results for {sent} records")
    return answer


def find_members(client: SalesforceClient, campaign_id: str, refs: Sequence[RecordRef]) -> dict[str, Member]:
    """Existing members of the campaign among ``refs``, by Lead or Contact id: one query."""
    ors = []
    for kind, field in ID_FIELD.items():
        ids = [r.id for r in refs if r.kind == kind]
        if ids:
            ors.append(f"{field} IN {soql_in(ids)}")
    if not ors:
        return {}
    where = f"CampaignId = {soql_quote(campaign_id)} AND ({' OR '.join(ors)})"
    found: dict[str, Member] = {}
    fields = ["Id", "LeadId", "ContactId", "Status", "CreatedById"]
    for row in client.query_records(select(fields, "CampaignMember", where)):
        member = Member(row["Id"], row.get("Status"), row.get("CreatedById"))
        for field in ID_FIELD.values():
            if row.get(field):
                found[row[field]] = member
    return found


def apply_changes(
    client: SalesforceClient, campaign_id: str, changes: Sequence[Change], campaign: Container | None = None
) -> list[ChangeOutcome]:
    """One outcome per change, in order (see the module docstring for the calls made). ``campaign``: its
    member statuses, so a status change never lowers a member whose status was raised since it was planned."""
    outcomes: dict[int, ChangeOutcome] = {}
    pending: list[int] = []
    for i, change in enumerate(changes):
        if change.target.kind not in ID_FIELD:
            message = f"a campaign member is a Lead or a Contact, not a {change.target.kind}"
            outcomes[i] = ChangeOutcome(change, OutcomeState.REJECTED, code="INVALID_RECORD_KIND", message=message)
        else:
            pending.append(i)
    looked_up = any(changes[i].action is not ChangeAction.ADD for i in pending)
    existing = find_members(client, campaign_id, [changes[i].target for i in pending]) if looked_up else {}

    creates, updates, deletes = [], [], []
    for i in pending:
        change, member = changes[i], existing.get(changes[i].target.id)
        if change.action is ChangeAction.ADD:
            if member is not None:
                outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_PRESENT, current_status=member.status)
            else:
                creates.append(i)
        elif change.action is ChangeAction.SET_STATUS:
            if member is None:
                outcomes[i] = ChangeOutcome(
                    change, OutcomeState.REJECTED, code="NOT_A_MEMBER", message="not a member of this campaign"
                )
            elif member.status == change.status:
                outcomes[i] = ChangeOutcome(change, OutcomeState.APPLIED)
            elif campaign is not None and campaign.outranks(member.status, change.status):
                outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_PRESENT, current_status=member.status)
            else:
                updates.append((i, member))
        elif member is None:
            outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_ABSENT)
        else:
            deletes.append((i, member))

    outcomes.update(_create_members(client, campaign_id, [(i, changes[i]) for i in creates]))
    outcomes.update(_update_members(client, [(i, changes[i], m) for i, m in updates]))
    outcomes.update(_delete_members(client, [(i, changes[i], m) for i, m in deletes]))
    return [outcomes[i] for i in range(len(changes))]


def _create_members(
    client: SalesforceClient, campaign_id: str, items: list[tuple[int, Change]]
) -> dict[int, ChangeOutcome]:
    if not items:
        return {}
    records = []
    for _, change in items:
        record: dict[str, Any] = {"attributes": {"type": "CampaignMember"}, "CampaignId": campaign_id}
        record[ID_FIELD[change.target.kind]] = change.target.id
        if change.status is not None:
            record["Status"] = change.status
        records.append(record)
    results = _results(client, "POST", len(records), json={"allOrNone": False, "records": records})
    out: dict[int, ChangeOutcome] = {}
    duplicates: list[tuple[int, Change]] = []
    for (i, change), result in zip(items, results, strict=True):
        if result.get("success"):
            out[i] = ChangeOutcome(change, OutcomeState.APPLIED)
        elif save_error(result)[0] == "DUPLICATE_VALUE":
            duplicates.append((i, change))
        else:
            out[i] = _failure(change, result)
    if duplicates:
        current = find_members(client, campaign_id, [c.target for _, c in duplicates])
        for i, change in duplicates:
            member = current.get(change.target.id)
            out[i] = ChangeOutcome(
                change, OutcomeState.ALREADY_PRESENT, current_status=member.status if member else None
            )
    return out


def _update_members(client: SalesforceClient, items: list[tuple[int, Change, Member]]) -> dict[int, ChangeOutcome]:
    if not items:
        return {}
    records = [{"attributes": {"type": "CampaignMember"}, "Id": m.id, "Status": c.status} for _, c, m in items]
    results = _results(client, "PATCH", len(records), json={"allOrNone": False, "records": records})
    return {
        i: ChangeOutcome(change, OutcomeState.APPLIED) if result.get("success") else _failure(change, result)
        for (i, change, _), result in zip(items, results, strict=True)
    }


def _delete_members(client: SalesforceClient, items: list[tuple[int, Change, Member]]) -> dict[int, ChangeOutcome]:
    if not items:
        return {}
    params = {"ids": ",".join(m.id for _, _, m in items), "allOrNone": "false"}
    results = _results(client, "DELETE", len(items), params=params)
    out = {}
    for (i, change, _), result in zip(items, results, strict=True):
        if result.get("success"):
            out[i] = ChangeOutcome(change, OutcomeState.APPLIED)
        elif save_error(result)[0] in ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"):
            out[i] = ChangeOutcome(change, OutcomeState.ALREADY_ABSENT)  # removed meanwhile
        else:
            out[i] = _failure(change, result)
    return out


def create_people(client: SalesforceClient, connection: str, drafts: Sequence[PersonDraft]) -> list[CreateOutcome]:
    """Create Leads (or Contacts, by ``draft.kind``); missing required names get ``NOT_PROVIDED``.

    One attempt per call (``idempotent=False``): a retried insert after a lost answer would create the
    people twice, while the next run's lookup finds those that were created.
    """
    outcomes: list[CreateOutcome] = []
    for batch in (drafts[i : i + COLLECTION_LIMIT] for i in range(0, len(drafts), COLLECTION_LIMIT)):
        records = [_person_record(d) for d in batch]
        payload = {"allOrNone": False, "records": records}
        answer = client.call("composite/sobjects", partial(_post, payload=payload), idempotent=False)
        if not isinstance(answer, list) or len(answer) != len(batch):
            raise TransientError(f"{connection}: Salesforce Collections answered an unexpected body to a create")
        for draft, result in zip(batch, answer, strict=True):
            if result.get("success"):
                kind = "Contact" if draft.kind == "Contact" else "Lead"
                record = PersonRecord(RecordRef(connection, kind, result["id"]), normalise_email(draft.email))
                outcomes.append(CreateOutcome(draft, record))
            else:
                code, message = save_error(result)
                outcomes.append(CreateOutcome(draft, None, code=code, message=message))
    return outcomes


def _post(sf: Salesforce, payload: dict[str, Any]) -> Any:
    return sf.restful("composite/sobjects", method="POST", json=payload)


def _person_record(draft: PersonDraft) -> dict[str, Any]:
    kind = "Contact" if draft.kind == "Contact" else "Lead"
    record: dict[str, Any] = {
        "attributes": {"type": kind},
        "Email": draft.email.strip(),
        "LastName": draft.last_name or NOT_PROVIDED,
    }
    if draft.first_name:
        record["FirstName"] = draft.first_name
    if kind == "Lead":
        record["Company"] = draft.company or NOT_PROVIDED
    return record
