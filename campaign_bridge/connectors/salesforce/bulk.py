"""Bulk API 2.0 for large work: ingest jobs for large plans, query jobs for large reads.

``apply_bulk`` runs at most three ingest jobs (insert adds, update status changes, delete removals) and
maps each job's results back to the changes by Lead/Contact id (inserts) or member id (updates,
deletes). It reads members only where it must: status changes and removals need member ids, looked up
200 people a query (or by one read of the whole campaign when its size says that is cheaper); an add the
insert job refuses (``DUPLICATE_VALUE``: already a member; usually none) is looked up after the job, to
report the member's current status. Outcomes are those of ``writes.apply_changes``.

An ingest job costs four calls when no row fails: create, upload, close and one poll, whose job info
counts the rows processed and failed. The failed rows are downloaded (one more call) only when there are
some, the successful ones only when the job processed fewer rows than it was sent. The jobs are driven
through simple-salesforce's Bulk 2.0 HTTP client (``sf.bulk2.<object>._client``): its ``insert``/``update``
helpers read the job once more after their poll, a call this module does not need.

``query_rows`` runs a query job (``query`` or ``queryAll``) and answers its CSV rows in the shape of REST
records (``Lead.Email`` → ``{"Lead": {"Email": …}}``, empty cells → None), so readers need not care
which API produced them. ``costs`` decides when either is used.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce.bulk2 import JobState, Operation, ResultsType
from simple_salesforce.exceptions import SalesforceOperationError

from campaign_bridge.connectors.salesforce.client import SalesforceClient
from campaign_bridge.connectors.salesforce.costs import QUERY_JOB_PAGE_ROWS, query_job_calls, rest_read_calls
from campaign_bridge.connectors.salesforce.soql import select, soql_quote
from campaign_bridge.connectors.salesforce.writes import ID_FIELD, RETRYABLE_CODES, Member, find_members
from campaign_bridge.mapping.model import Change, ChangeAction, ChangeOutcome, Container, OutcomeState, RecordRef

#: Seconds between polls of a running job (simple-salesforce also waits this long before the first).
DEFAULT_POLL_SECONDS = 2.0
#: Longest wait between two polls of a long ingest job, and how long a job may run before we give up.
MAX_POLL_SECONDS = 30.0
JOB_TIMEOUT_SECONDS = 6 * 3600.0
#: Rows per results page of a query job (Salesforce's own default), as the cost model counts them.
QUERY_PAGE_ROWS = QUERY_JOB_PAGE_ROWS
#: People per member lookup query: 200 quoted ids keep the GET URL far under Salesforce's 16 kB cap.
MEMBER_LOOKUP_BATCH = 200
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
) -> Iterator[dict[str, Any]]:
    """Every row of ``soql`` through one Bulk API 2.0 query job, one results page (``QUERY_PAGE_ROWS``) at a
    time, so a million-row read never sits in memory whole. Starting the job (create, wait, first page) is
    retried whole on a transient failure; each further page by its locator."""

    def start(sf: Any) -> tuple[str, dict[str, Any]]:
        api = getattr(sf.bulk2, sobject)._client
        job_id = api.create_job(Operation.query_all if include_deleted else Operation.query, soql)["id"]
        api.wait_for_job(job_id, True, poll)
        return job_id, api.get_query_results(job_id, "", QUERY_PAGE_ROWS)

    job_id, page = client.call("jobs/query", start)
    while True:
        yield from (nest_row(r) for r in csv.DictReader(io.StringIO(page["records"])))
        locator: str = page["locator"]
        if not locator:
            return

        def next_page(sf: Any, at: str = locator) -> dict[str, Any]:
            results: dict[str, Any] = getattr(sf.bulk2, sobject)._client.get_query_results(job_id, at, QUERY_PAGE_ROWS)
            return results

        page = client.call("jobs/query results", next_page)


def parse_bulk_error(text: str) -> tuple[str, str]:
    """``(code, message)`` of an ``sf__Error`` cell such as ``DUPLICATE_VALUE:Already a member.:--``."""
    code, _, rest = (text or "").partition(":")
    message = rest.rsplit(":", 1)[0] if ":" in rest else rest
    return code.strip() or "UNKNOWN_ERROR", message.strip() or text


@dataclass(frozen=True, slots=True)
class JobResults:
    """An ingest job's answer: its failed rows, and its successful rows when it did not process them all
    (``None``: every row it was sent was processed, so every row not failed succeeded)."""

    failed: list[dict[str, str]]
    succeeded: list[dict[str, str]] | None


def members_of(
    client: SalesforceClient,
    campaign_id: str,
    refs: Sequence[RecordRef],
    *,
    size: int | None = None,
    poll: float = DEFAULT_POLL_SECONDS,
) -> dict[str, Member]:
    """The present members of the campaign among ``refs``, by Lead and by Contact id: one query per
    ``MEMBER_LOOKUP_BATCH`` people, or one read of the whole campaign (REST pages or a query job) when
    its ``size`` is known and that costs fewer calls."""
    wanted = list(dict.fromkeys(r for r in refs if r.kind in ID_FIELD))
    if not wanted:
        return {}
    lookups = -(-len(wanted) // MEMBER_LOOKUP_BATCH)
    if size is not None and min(rest_read_calls(size), query_job_calls(size)) < lookups:
        ids = {r.id for r in wanted}
        return {k: m for k, m in _all_members(client, campaign_id, size, poll).items() if k in ids}
    found: dict[str, Member] = {}
    for start in range(0, len(wanted), MEMBER_LOOKUP_BATCH):
        found.update(find_members(client, campaign_id, wanted[start : start + MEMBER_LOOKUP_BATCH]))
    return found


def _all_members(client: SalesforceClient, campaign_id: str, size: int, poll: float) -> dict[str, Member]:
    """Every present member of the campaign, by Lead and by Contact id, by the cheaper API for ``size``."""
    soql = select(["Id", "LeadId", "ContactId", "Status"], "CampaignMember", f"CampaignId = {soql_quote(campaign_id)}")
    if query_job_calls(size) < rest_read_calls(size):
        rows: Any = query_rows(client, "CampaignMember", soql, include_deleted=False, poll=poll)
    else:
        rows = client.query_records(soql)
    found: dict[str, Member] = {}
    for row in rows:
        for field in ID_FIELD.values():
            if row.get(field):
                found[row[field]] = Member(row["Id"], row.get("Status"))
    return found


def _csv_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _wait(api: Any, job_id: str, poll: float) -> dict[str, Any]:
    """Poll the ingest job until it is done; its final job info. Raises ``SalesforceOperationError`` (a
    ``FatalError`` past the client) when it failed, was aborted or outran ``JOB_TIMEOUT_SECONDS``."""
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    delay = poll
    while True:
        time.sleep(delay)
        info: dict[str, Any] = api.get_job(job_id, False)
        state = info.get("state")
        if state == JobState.job_complete:
            return info
        if state in (JobState.failed, JobState.aborted):
            raise SalesforceOperationError(
                f"ingest job {job_id} ended {state}: {info.get('errorMessage') or 'no reason'}"
            )
        if time.monotonic() > deadline:
            raise SalesforceOperationError(f"ingest job {job_id} still {state} after {JOB_TIMEOUT_SECONDS:.0f} s")
        delay = min(MAX_POLL_SECONDS, delay * 2)


def _run_job(client: SalesforceClient, operation: Operation, rows: list[dict[str, str]], poll: float) -> JobResults:
    """Run one CampaignMember ingest job over ``rows`` (see the module docstring for its calls)."""

    def run(sf: Any) -> JobResults:
        api = sf.bulk2.CampaignMember._client
        job_id = api.create_job(operation)["id"]
        try:
            api.upload_job_data(job_id, _csv_text(rows))
            api.close_job(job_id)
        except Exception:
            # An open job holds its upload and nobody would ever close it. Best effort: the error that
            # brought us here is the one to report, not a failed abort.
            with contextlib.suppress(Exception):
                api.abort_job(job_id, False)
            raise
        info = _wait(api, job_id, poll)
        failed: list[dict[str, str]] = []
        if int(info.get("numberRecordsFailed") or 0):
            failed = list(csv.DictReader(io.StringIO(api.get_ingest_results(job_id, ResultsType.failed))))
        succeeded = None
        if int(info.get("numberRecordsProcessed") or 0) < len(rows):
            succeeded = list(csv.DictReader(io.StringIO(api.get_ingest_results(job_id, ResultsType.successful))))
        return JobResults(failed, succeeded)

    # Re-running a whole job is safe: inserts of present members fail DUPLICATE_VALUE (already present),
    # updates set the same status again, deletes of deleted members fail ENTITY_IS_DELETED (absent).
    return client.call(f"jobs/ingest {operation.value}", run)


def apply_bulk(
    client: SalesforceClient,
    campaign_id: str,
    changes: Sequence[Change],
    poll: float = DEFAULT_POLL_SECONDS,
    *,
    size: int | None = None,
    campaign: Container | None = None,
) -> list[ChangeOutcome]:
    """One outcome per change, in order. ``size`` is the campaign's member count when known (it decides
    how member ids are looked up); ``campaign`` its member statuses, so a status change never lowers a
    member whose status was raised since it was planned."""
    outcomes: dict[int, ChangeOutcome] = {}
    inserts: dict[str, int] = {}
    updates: dict[str, int] = {}
    deletes: dict[str, int] = {}
    moves = [c.target for c in changes if c.action is not ChangeAction.ADD]
    existing = members_of(client, campaign_id, moves, size=size, poll=poll) if moves else {}
    for i, change in enumerate(changes):
        member = existing.get(change.target.id)
        if change.target.kind not in ID_FIELD:
            message = f"a campaign member is a Lead or a Contact, not a {change.target.kind}"
            outcomes[i] = ChangeOutcome(change, OutcomeState.REJECTED, code="INVALID_RECORD_KIND", message=message)
        elif change.action is ChangeAction.ADD:
            inserts.setdefault(change.target.id, i)
        elif change.action is ChangeAction.SET_STATUS:
            if member is None:
                message = "not a member of this campaign"
                outcomes[i] = ChangeOutcome(change, OutcomeState.REJECTED, code="NOT_A_MEMBER", message=message)
            elif member.status == change.status:
                outcomes[i] = ChangeOutcome(change, OutcomeState.APPLIED)
            elif campaign is not None and campaign.outranks(member.status, change.status):
                outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_PRESENT, current_status=member.status)
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
        results = _run_job(client, Operation.insert, rows, poll)
        refused = _settle(changes, outcomes, inserts, results, lambda r: r.get("LeadId") or r.get("ContactId") or "")
        _already_present(client, campaign_id, changes, outcomes, refused)
    if updates:
        rows = [{"Id": member_id, "Status": changes[i].status or ""} for member_id, i in updates.items()]
        results = _run_job(client, Operation.update, rows, poll)
        _settle(changes, outcomes, updates, results, lambda r: r.get("Id") or r.get("sf__Id") or "")
    if deletes:
        results = _run_job(client, Operation.delete, [{"Id": member_id} for member_id in deletes], poll)
        _settle(changes, outcomes, deletes, results, lambda r: r.get("Id") or r.get("sf__Id") or "")

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
    results: JobResults,
    key: Callable[[dict[str, str]], str],
) -> list[int]:
    """Record each row's outcome; answer the adds the job refused for a reason other than a retryable one
    (a present member may be refused for its status before its duplicate is noticed)."""
    refused: list[int] = []
    failed: set[int] = set()
    for row in results.failed:
        i = keyed.get(key(row))
        if i is None:
            continue
        failed.add(i)
        code, message = parse_bulk_error(row.get("sf__Error", ""))
        change = changes[i]
        state = OutcomeState.FAILED if code in RETRYABLE_CODES else OutcomeState.REJECTED
        if code == "DUPLICATE_VALUE" and change.action is ChangeAction.ADD:
            outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_PRESENT)
        elif code == "ENTITY_IS_DELETED" and change.action is ChangeAction.REMOVE:
            outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_ABSENT)
        else:
            outcomes[i] = ChangeOutcome(change, state, code=code, message=message)
        if change.action is ChangeAction.ADD and state is OutcomeState.REJECTED:
            refused.append(i)
    if results.succeeded is None:
        done = [i for i in keyed.values() if i not in failed]
    else:
        done = [i for i in (keyed.get(key(row)) for row in results.succeeded) if i is not None]
    for i in done:
        outcomes[i] = ChangeOutcome(changes[i], OutcomeState.APPLIED)
    return refused


def _already_present(
    client: SalesforceClient,
    campaign_id: str,
    changes: Sequence[Change],
    outcomes: dict[int, ChangeOutcome],
    refused: list[int],
) -> None:
    """Refused adds whose person is a member after all become ALREADY_PRESENT with the member's status:
    one lookup per ``MEMBER_LOOKUP_BATCH`` of them (usually there are none)."""
    for start in range(0, len(refused), MEMBER_LOOKUP_BATCH):
        batch = refused[start : start + MEMBER_LOOKUP_BATCH]
        found = find_members(client, campaign_id, [changes[i].target for i in batch])
        for i in batch:
            member = found.get(changes[i].target.id)
            if member is not None:
                outcomes[i] = ChangeOutcome(changes[i], OutcomeState.ALREADY_PRESENT, current_status=member.status)
