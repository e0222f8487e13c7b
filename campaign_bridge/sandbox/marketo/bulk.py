"""Bulk lead extract: asynchronous export jobs whose result is a CSV file.

Checked against AdobeDocs ``help/rest-api/bulk-lead-extract.md`` / ``bulk-extract.md`` and swagger-mapi:
``POST /bulk/v1/leads/export/create.json`` ``{"fields": [...], "format": "CSV", "filter": {...}}`` (exactly
one filter: ``createdAt``/``updatedAt`` ranges of at most 31 days, ``staticListId``, ``staticListName``,
``smartListId``, ``smartListName``) → ``{exportId, format, status: "Created", createdAt}``;
``POST …/{exportId}/enqueue.json`` → ``Queued``; ``GET …/{exportId}/status.json`` → ``Completed`` with
``numberOfRecords`` and ``fileSize``; ``GET …/{exportId}/file.json`` → the CSV, a header row of the field
names then one row per lead. The daily export allowance (500 MB by default) is spent as files are made;
past it enqueue answers ``1029`` "Export daily quota 500MB exceeded". An unknown job is ``1003``.

Bulk activity extract (AdobeDocs ``bulk-activity-extract.md``): ``POST /bulk/v1/activities/export/create.json``
``{"format": "CSV", "filter": {"createdAt": {"startAt", "endAt"}, "activityTypeIds": [...]}}`` (``createdAt``
required, a range of at most 31 days; ``activityTypeIds`` optional), then the same enqueue, status and file
calls under ``/bulk/v1/activities/export/``; the file's columns are ``marketoGUID, leadId, activityDate,
activityTypeId, campaignId, primaryAttributeValueId, primaryAttributeValue, attributes``, oldest first. It
spends the same daily export allowance. The refusal texts for a missing or too wide range are [U].

The emulator finishes a job when it is enqueued (a real one takes seconds to minutes), so the first status
poll answers ``Completed``; the job's members are those of the moment it was enqueued, as Marketo says.
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime
from typing import Any

from campaign_bridge.sandbox.http import Request, Response, Router
from campaign_bridge.sandbox.marketo.routes_leads import lead_view, stamp
from campaign_bridge.sandbox.marketo.state import ACTIVITY_TYPES, ExportJob, MarketoState
from campaign_bridge.sandbox.marketo.wire import MarketoError, json_body, ok

#: The default daily export allowance, in bytes.
DAILY_EXPORT_BYTES = 500 * 1024 * 1024
FILTERS = ("createdAt", "updatedAt", "staticListId", "staticListName", "smartListId", "smartListName")
#: The columns of an activity extract's file (the default ``fields``).
ACTIVITY_COLUMNS = [
    "marketoGUID",
    "leadId",
    "activityDate",
    "activityTypeId",
    "campaignId",
    "primaryAttributeValueId",
    "primaryAttributeValue",
    "attributes",
]
#: The widest ``createdAt`` range an extract takes.
MAX_RANGE_SECONDS = 31 * 86400


def register(router: Router, state: MarketoState, allowance: list[int]) -> None:
    """``allowance`` holds the daily export allowance in bytes (a list, so a test may lower it)."""

    @router.route("POST", r"/bulk/v1/leads/export/create\.json")
    def create(request: Request) -> Response:
        data = json_body(request)
        fields, filt = data.get("fields"), data.get("filter")
        if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
            raise MarketoError("1003", "fields is required")
        if data.get("format", "CSV") != "CSV":
            raise MarketoError("1003", "Only CSV is supported here")
        if not isinstance(filt, dict) or len(filt) != 1 or next(iter(filt)) not in FILTERS:
            raise MarketoError("1003", f"Exactly one filter of {', '.join(FILTERS)} is required")
        job = ExportJob(secrets.token_hex(8), fields, filt, "Created", state.clock())
        state.exports[job.id] = job
        return ok([_view(job)])

    @router.route("POST", r"/bulk/v1/leads/export/(?P<job>[^/]+)/enqueue\.json")
    def enqueue(request: Request) -> Response:
        job = _job(state, request.params["job"])
        if job.status != "Created":
            raise MarketoError("1029", f"Job is already {job.status.lower()}")
        rows = [[_cell(lead_view(state.leads[i], job.fields).get(f)) for f in job.fields] for i in _members(state, job)]
        return _enqueued(state, job, rows, allowance)

    @router.route("GET", r"/bulk/v1/leads/export/(?P<job>[^/]+)/status\.json")
    def status(request: Request) -> Response:
        return ok([_view(_job(state, request.params["job"]))])

    @router.route("GET", r"/bulk/v1/leads/export/(?P<job>[^/]+)/file\.json")
    def file(request: Request) -> Response:
        job = _job(state, request.params["job"])
        if job.status != "Completed":
            raise MarketoError("1003", "Job is not completed")
        return Response(200, _csv(job.fields, job.rows), content_type="text/csv")


def register_activities(router: Router, state: MarketoState, allowance: list[int]) -> None:
    """The bulk activity extract: its jobs live apart from the lead extracts' and spend the same allowance."""

    @router.route("POST", r"/bulk/v1/activities/export/create\.json")
    def create(request: Request) -> Response:
        data = json_body(request)
        if data.get("format", "CSV") != "CSV":
            raise MarketoError("1003", "Only CSV is supported here")
        filt = data.get("filter")
        if not isinstance(filt, dict) or not isinstance(filt.get("createdAt"), dict):
            raise MarketoError("1003", "filter.createdAt is required")
        low, high = (_moment(filt["createdAt"].get(k), k) for k in ("startAt", "endAt"))
        if not 0 <= high - low <= MAX_RANGE_SECONDS:
            raise MarketoError("1003", "createdAt must be a range of 31 days or fewer")
        types = filt.get("activityTypeIds")
        if types is not None:
            if not isinstance(types, list) or not types or not all(isinstance(t, int) for t in types):
                raise MarketoError("1003", "activityTypeIds must be a list of integers")
            unknown = sorted(set(types) - set(ACTIVITY_TYPES))
            if unknown:
                raise MarketoError("1003", f"Invalid activityTypeIds: {','.join(map(str, unknown))}")
        unknown_keys = sorted(set(filt) - {"createdAt", "activityTypeIds"})
        if unknown_keys:
            raise MarketoError("1003", f"Unsupported filter: {', '.join(unknown_keys)}")
        job = ExportJob(secrets.token_hex(8), list(ACTIVITY_COLUMNS), filt, "Created", state.clock())
        state.activity_exports[job.id] = job
        return ok([_view(job)])

    @router.route("POST", r"/bulk/v1/activities/export/(?P<job>[^/]+)/enqueue\.json")
    def enqueue(request: Request) -> Response:
        job = _job(state, request.params["job"], state.activity_exports)
        if job.status != "Created":
            raise MarketoError("1029", f"Job is already {job.status.lower()}")
        window = job.filter["createdAt"]
        low, high = _moment(window["startAt"], "startAt"), _moment(window["endAt"], "endAt")
        types = set(job.filter.get("activityTypeIds") or ACTIVITY_TYPES)
        rows = [
            [str(a.id), str(a.lead_id), stamp(a.at), str(a.type_id), "", str(a.primary_id), a.primary, "{}"]
            for a in state.activities
            if low <= a.at <= high and a.type_id in types and a.lead_id in state.leads
        ]
        return _enqueued(state, job, rows, allowance)

    @router.route("GET", r"/bulk/v1/activities/export/(?P<job>[^/]+)/status\.json")
    def status(request: Request) -> Response:
        return ok([_view(_job(state, request.params["job"], state.activity_exports))])

    @router.route("GET", r"/bulk/v1/activities/export/(?P<job>[^/]+)/file\.json")
    def file(request: Request) -> Response:
        job = _job(state, request.params["job"], state.activity_exports)
        if job.status != "Completed":
            raise MarketoError("1003", "Job is not completed")
        return Response(200, _csv(job.fields, job.rows), content_type="text/csv")


def _enqueued(state: MarketoState, job: ExportJob, rows: list[list[str]], allowance: list[int]) -> Response:
    """The answer to an enqueue: the file is made at once (the job reads as completed from then on) and its
    size spent from the day's export allowance, refused with 1029 when the allowance cannot hold it."""
    size = len(_csv(job.fields, rows))
    if state.exported_bytes + size > allowance[0]:
        raise MarketoError("1029", f"Export daily quota {allowance[0] // (1024 * 1024)}MB exceeded")
    state.exported_bytes += size
    job.rows, job.file_size, job.status = rows, size, "Completed"
    return ok([{**_view(job), "status": "Queued", "queuedAt": stamp(state.clock())}])


def _moment(value: Any, name: str) -> float:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise MarketoError("1003", f"Invalid {name}: {value}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _job(state: MarketoState, raw: str, jobs: dict[str, ExportJob] | None = None) -> ExportJob:
    job = (state.exports if jobs is None else jobs).get(raw)
    if job is None:
        raise MarketoError("1003", f"Export Id {raw} not found")
    return job


def _members(state: MarketoState, job: ExportJob) -> list[int]:
    ((kind, value),) = job.filter.items()
    if kind in ("smartListId", "smartListName"):
        found = [s.id for s in state.smart_lists.values() if (s.id if kind == "smartListId" else s.name) == value]
        if not found:
            raise MarketoError("1003", f"Smart list {value} not found")
        return state.smart_list_members(found[0])
    if kind in ("staticListId", "staticListName"):
        statics = [s for s in state.lists.values() if (s.id if kind == "staticListId" else s.name) == value]
        if not statics:
            raise MarketoError("1003", f"Static list {value} not found")
        return [i for i in statics[0].members if i in state.leads]
    if not isinstance(value, dict) or "startAt" not in value or "endAt" not in value:
        raise MarketoError("1003", f"{kind} needs startAt and endAt")
    low, high = str(value["startAt"]), str(value["endAt"])
    created = kind == "createdAt"
    return [i for i, lead in state.leads.items() if low <= stamp(lead.created if created else lead.updated) <= high]


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _csv(fields: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    writer.writerows(rows)
    return out.getvalue()


def _view(job: ExportJob) -> dict[str, Any]:
    view: dict[str, Any] = {
        "exportId": job.id,
        "format": "CSV",
        "status": job.status,
        "createdAt": stamp(job.created),
    }
    if job.status == "Completed":
        view.update(numberOfRecords=len(job.rows), fileSize=job.file_size)
    return view
