"""Bulk API 2.0 for large work: ingest jobs for large plans, query jobs for large reads.

``apply_bulk`` reads the campaign's members once (REST, 2000 a page), then runs at most three ingest
jobs (insert adds, update status changes, delete removals) through ``sf.bulk2``, and maps each job's
``successfulResults``/``failedResults`` CSV rows back to the changes by Lead/Contact id (inserts) or
member id (updates, deletes). Outcomes are those of ``writes.apply_changes``.

The switch happens above ``settings.bulk_threshold`` changes (10,000 by default): a job costs about
six calls however large it is (create, upload, close, polls, two result downloads), while Collections
costs one call per 200 records but answers immediately.

``query_rows`` runs a query job (``query`` or ``queryAll``) and answers its CSV rows in the shape of REST
records (``Lead.Email`` → ``{"Lead": {"Email": …}}``, empty cells → None), so readers need not care
which API produced them. Reads switch to it when a REST query's ``totalSize`` passes the threshold.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from campaign_bridge.connectors.salesforce.client import SalesforceClient
from campaign_bridge.connectors.salesforce.soql import select, soql_quote
from campaign_bridge.connectors.salesforce.writes import ID_FIELD, RETRYABLE_CODES, Member
from campaign_bridge.mapping.model import Change, ChangeAction, ChangeOutcome, OutcomeState

#: Seconds between polls of a running job (simple-salesforce also waits this long before the first).
DEFAULT_POLL_SECONDS = 2.0
#: Rows per results page of a query job (Salesforce's own default).
QUERY_PAGE_ROWS = 50_000
#: CSV columns that hold booleans ("true"/"false" in Bulk results).
BOOLEAN_COLUMNS = frozenset({"IsDeleted", "IsConverted", "HasResponded", "IsDefault", "IsActive"})


def _cell(column: str, text: str) -> Any:
    if text == "":
        return None
    if column.rsplit(".", 1)[-1] in BOOLEAN_COLUMNS:
        return text.lower() == "true"
    return text


def nest_row(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as a REST record: dotted columns become nested objects (None when all empty)."""
    record: dict[str, Any] = {}
    for column, text in row.items():
        head, dot, tail = column.partition(".")
        if not dot:
            record[column] = _cell(column, text)
            continue
        parent = record.get(head)
        if not isinstance(parent, dict):
            parent = record[head] = {}
        parent[tail] = _cell(tail, text)
    for key, value in record.items():
        if isinstance(value, dict) and all(v is None for v in value.values()):
            record[key] = None
    return record


def query_rows(
    client: SalesforceClient, sobject: str, soql: str, *, include_deleted: bool, poll: float = DEFAULT_POLL_SECONDS
) -> list[dict[str, Any]]:
    """Every row of ``soql`` through one Bulk API 2.0 query job (re-run whole on a transient failure)."""

    def run(sf: Any) -> list[dict[str, Any]]:
        handle = getattr(sf.bulk2, sobject)
        start = handle.query_all if include_deleted else handle.query
        rows: list[dict[str, Any]] = []
        for page in start(soql, max_records=QUERY_PAGE_ROWS, wait=poll):
            rows += [nest_row(r) for r in csv.DictReader(io.StringIO(page))]
        return rows

    return client.call("jobs/query", run)


def parse_bulk_error(text: str) -> tuple[str, str]:
    """``(code, message)`` of an ``sf__Error`` cell such as ``DUPLICATE_VALUE:Already a member.:--``."""
    code, _, rest = (text or "").partition(":")
    message = rest.rsplit(":", 1)[0] if ":" in rest else rest
    return code.strip() or "UNKNOWN_ERROR", message.strip() or text


def all_members(client: SalesforceClient, campaign_id: str) -> dict[str, Member]:
    """Every present member of the campaign, by Lead and by Contact id."""
    soql = select(["Id", "LeadId", "ContactId", "Status"], "CampaignMember", f"CampaignId = {soql_quote(campaign_id)}")
    found: dict[str, Member] = {}
    for row in client.query_records(soql):
        for field in ID_FIELD.values():
            if row.get(field):
                found[row[field]] = Member(row["Id"], row.get("Status"))
    return found


def _run_job(
    client: SalesforceClient, operation: str, rows: list[dict[str, str]], poll: float
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Run one ingest job; its (successful, failed) result rows."""

    def run(sf: Any) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        handle = sf.bulk2.CampaignMember
        jobs = getattr(handle, operation)(records=rows, wait=poll)
        ok: list[dict[str, str]] = []
        failed: list[dict[str, str]] = []
        for job in jobs:
            ok += list(csv.DictReader(handle.get_successful_records(job["job_id"]).splitlines()))
            failed += list(csv.DictReader(handle.get_failed_records(job["job_id"]).splitlines()))
        return ok, failed

    # Re-running a whole job is safe: inserts of present members fail DUPLICATE_VALUE (already present),
    # updates set the same status again, deletes of deleted members fail ENTITY_IS_DELETED (absent).
    return client.call(f"jobs/ingest {operation}", run)


def apply_bulk(
    client: SalesforceClient, campaign_id: str, changes: Sequence[Change], poll: float = DEFAULT_POLL_SECONDS
) -> list[ChangeOutcome]:
    """One outcome per change, in order."""
    existing = all_members(client, campaign_id)
    outcomes: dict[int, ChangeOutcome] = {}
    inserts: dict[str, int] = {}
    updates: dict[str, int] = {}
    deletes: dict[str, int] = {}
    for i, change in enumerate(changes):
        member = existing.get(change.target.id)
        if change.target.kind not in ID_FIELD:
            message = f"a campaign member is a Lead or a Contact, not a {change.target.kind}"
            outcomes[i] = ChangeOutcome(change, OutcomeState.REJECTED, code="INVALID_RECORD_KIND", message=message)
        elif change.action is ChangeAction.ADD:
            if member is not None:
                outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_PRESENT, current_status=member.status)
            else:
                inserts.setdefault(change.target.id, i)
        elif change.action is ChangeAction.SET_STATUS:
            if member is None:
                message = "not a member of this campaign"
                outcomes[i] = ChangeOutcome(change, OutcomeState.REJECTED, code="NOT_A_MEMBER", message=message)
            elif member.status == change.status:
                outcomes[i] = ChangeOutcome(change, OutcomeState.APPLIED)
            else:
                updates.setdefault(member.id, i)
        elif member is None:
            outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_ABSENT)
        else:
            deletes.setdefault(member.id, i)

    if inserts:
        rows = [
            {
                "CampaignId": campaign_id,
                "LeadId": changes[i].target.id if changes[i].target.kind == "Lead" else "",
                "ContactId": changes[i].target.id if changes[i].target.kind == "Contact" else "",
                "Status": changes[i].status or "",
            }
            for i in inserts.values()
        ]
        ok, failed = _run_job(client, "insert", rows, poll)
        _settle(changes, outcomes, inserts, ok, failed, lambda r: r.get("LeadId") or r.get("ContactId") or "")
    if updates:
        rows = [{"Id": member_id, "Status": changes[i].status or ""} for member_id, i in updates.items()]
        ok, failed = _run_job(client, "update", rows, poll)
        _settle(changes, outcomes, updates, ok, failed, lambda r: r.get("Id") or r.get("sf__Id") or "")
    if deletes:
        ok, failed = _run_job(client, "delete", [{"Id": member_id} for member_id in deletes], poll)
        _settle(changes, outcomes, deletes, ok, failed, lambda r: r.get("Id") or r.get("sf__Id") or "")

    # A change the job reported neither way (or a repeated target) keeps a retryable outcome.
    for i, change in enumerate(changes):
        if i not in outcomes:
            prior = next((o for j, o in outcomes.items() if changes[j].target == change.target), None)
            outcomes[i] = prior or ChangeOutcome(
                change, OutcomeState.FAILED, code="UNPROCESSED", message="not processed"
            )
    return [outcomes[i] for i in range(len(changes))]


def _settle(
    changes: Sequence[Change],
    outcomes: dict[int, ChangeOutcome],
    keyed: dict[str, int],
    ok: list[dict[str, str]],
    failed: list[dict[str, str]],
    key: Callable[[dict[str, str]], str],
) -> None:
    for row in ok:
        i = keyed.get(key(row))
        if i is not None:
            outcomes[i] = ChangeOutcome(changes[i], OutcomeState.APPLIED)
    for row in failed:
        i = keyed.get(key(row))
        if i is None:
            continue
        code, message = parse_bulk_error(row.get("sf__Error", ""))
        change = changes[i]
        if code == "DUPLICATE_VALUE" and change.action is ChangeAction.ADD:
            outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_PRESENT)
        elif code == "ENTITY_IS_DELETED" and change.action is ChangeAction.REMOVE:
            outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_ABSENT)
        else:
            state = OutcomeState.FAILED if code in RETRYABLE_CODES else OutcomeState.REJECTED
            outcomes[i] = ChangeOutcome(change, state, code=code, message=message)
