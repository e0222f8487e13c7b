"""Bulk API 2.0: query jobs (``jobs/query``) and CSV ingest jobs (``jobs/ingest``), as simple-salesforce
drives them.

Query jobs run their SOQL when created (an invalid query is refused right there with the REST error),
report ``UploadComplete``, and are ``JobComplete`` from the first poll on. Results are CSV pages of
``maxRecords`` rows with ``Sforce-NumberOfRecords`` and ``Sforce-Locator`` (``null`` on the last page).
Ingest jobs collect CSV uploads (PUT → 201) and process them when the client sets ``UploadComplete``;
each row succeeds or fails on its own, through the same validation as the REST API.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..http import Request, Response, Router
from . import dml
from .errors import ApiError, RecordError, not_found
from .query import BoundQuery, compile_query
from .rest import V
from .schema import object_def
from .state import SalesforceState
from .values import format_datetime

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
ROWS_PER_LOCK = 2000  # ingest releases the org lock between chunks so other clients are not starved


@dataclass(slots=True)
class Job:
    id: str
    kind: str  # query | ingest
    operation: str
    object: str
    version: str
    created: datetime
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "Open"
    external_id: str | None = None
    query: BoundQuery | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)  # query results
    uploads: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    error_message: str | None = None

    def info(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": "",
            "createdDate": format_datetime(self.created),
            "systemModstamp": format_datetime(self.created),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }
        if self.kind == "query":
            body.update(jobType="V2Query", numberRecordsProcessed=len(self.rows) if self.state == "JobComplete" else 0)
        else:
            body.update(
                jobType="V2Ingest",
                contentUrl=f"services/data/v{self.version}/jobs/ingest/{self.id}/batches",
                numberRecordsProcessed=len(self.successes) + len(self.failures),
                numberRecordsFailed=len(self.failures),
            )
            if self.external_id:
                body["externalIdFieldName"] = self.external_id
        body.update(retries=0, totalProcessingTime=0)
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


class BulkApi:
    def __init__(self, state: SalesforceState) -> None:
        self.state = state
        self.jobs: dict[str, Job] = {}  # guarded by state.lock

    def register(self, router: Router) -> None:
        job = r"(?P<job>750\w+)"
        router.add("POST", rf"{V}/jobs/query/?", self.create_query)
        router.add("GET", rf"{V}/jobs/query/{job}/?", self.get_query)
        router.add("PATCH", rf"{V}/jobs/query/{job}/?", self.patch_job)
        router.add("DELETE", rf"{V}/jobs/query/{job}/?", self.delete_job)
        router.add("GET", rf"{V}/jobs/query/{job}/results/?", self.query_results)
        router.add("POST", rf"{V}/jobs/ingest/?", self.create_ingest)
        router.add("GET", rf"{V}/jobs/ingest/{job}/?", self.get_ingest)
        router.add("PATCH", rf"{V}/jobs/ingest/{job}/?", self.patch_job)
        router.add("DELETE", rf"{V}/jobs/ingest/{job}/?", self.delete_job)
        router.add("PUT", rf"{V}/jobs/ingest/{job}/batches/?", self.upload)
        router.add(
            "GET",
            rf"{V}/jobs/ingest/{job}/(?P<which>successfulResults|failedResults|unprocessedrecords)/?",
            self.ingest_results,
        )

    # ---- query ---------------------------------------------------------------------------------------

    def create_query(self, request: Request) -> Response:
        body = _body(request)
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
        delimiter, line_ending = _format(body)
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "INVALIDJOB", "A query is required")
        state = self.state
        with state.lock:
            bound = compile_query(state, text)
            if bound.count:
                raise ApiError(400, "INVALIDJOB", "Aggregate queries are not supported by Bulk API 2.0 query")
            if bound.children:
                raise ApiError(
                    400, "INVALIDJOB", "Parent-to-child relationship queries are not supported by Bulk API 2.0 query"
                )
            rows = bound.run(include_deleted=operation == "queryAll")
            job = Job(
                state.ids.new("750"),
                "query",
                operation,
                bound.obj.name,
                request.params["version"],
                state.now(),
                delimiter,
                line_ending,
                state="UploadComplete",
                query=bound,
                rows=rows,
            )
            self.jobs[job.id] = job
            return Response(200, job.info())

    def get_query(self, request: Request) -> Response:
        job = self._job(request, "query")
        if job.state == "UploadComplete":
            job.state = "JobComplete"  # the job "ran" between creation and the first poll
        return Response(200, job.info())

    def query_results(self, request: Request) -> Response:
        job = self._job(request, "query")
        if job.state == "UploadComplete":
            job.state = "JobComplete"
        if job.state != "JobComplete" or job.query is None:
            raise ApiError(400, "INVALIDJOB", f"Job {job.id} is not complete: {job.state}")
        offset = _decode_locator(request.arg("locator"))
        raw_max = request.arg("maxRecords")
        limit = int(raw_max) if raw_max and raw_max.isdigit() and int(raw_max) > 0 else len(job.rows) or 1
        with self.state.lock:
            page = job.rows[offset : offset + limit]
            out = io.StringIO()
            writer = csv.writer(
                out,
                delimiter=DELIMITERS[job.delimiter],
                lineterminator=LINE_ENDINGS[job.line_ending],
                quoting=csv.QUOTE_ALL,
            )
            writer.writerow(job.query.csv_header())
            writer.writerows(job.query.to_csv(r) for r in page)
        following = offset + limit
        locator = _encode_locator(following) if following < len(job.rows) else "null"
        headers = {"Sforce-NumberOfRecords": str(len(page)), "Sforce-Locator": locator}
        return Response(200, out.getvalue(), headers=headers, content_type="text/csv")

    # ---- ingest --------------------------------------------------------------------------------------

    def create_ingest(self, request: Request) -> Response:
        body = _body(request)
        obj = object_def(str(body.get("object", "")))
        if obj is None:
            raise ApiError(400, "INVALIDJOB", f"Unable to find object: {body.get('object')}")
        operation = body.get("operation")
        if operation not in INGEST_OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
        if body.get("contentType", "CSV") != "CSV":
            raise ApiError(400, "INVALIDJOB", "Only CSV content is supported")
        external_id = body.get("externalIdFieldName")
        if operation == "upsert" and (not isinstance(external_id, str) or external_id.lower() != "id"):
            raise ApiError(400, "INVALIDJOB", f"The sandbox upserts by Id only, not by {external_id}")
        delimiter, line_ending = _format(body)
        state = self.state
        with state.lock:
            job = Job(
                state.ids.new("750"),
                "ingest",
                str(operation),
                obj.name,
                request.params["version"],
                state.now(),
                delimiter,
                line_ending,
                external_id=external_id if isinstance(external_id, str) else None,
            )
            self.jobs[job.id] = job
        return Response(200, job.info())

    def get_ingest(self, request: Request) -> Response:
        return Response(200, self._job(request, "ingest").info())

    def upload(self, request: Request) -> Response:
        job = self._job(request, "ingest")
        if job.state != "Open":
            raise ApiError(409, "INVALIDJOB", f"Job {job.id} is not open for uploads: {job.state}")
        job.uploads.append(request.body.decode("utf-8-sig"))
        return Response(201)

    def patch_job(self, request: Request) -> Response:
        job = self._job(request, None)
        wanted = _body(request).get("state")
        if wanted == "Aborted":
            if job.state in ("JobComplete", "Failed"):
                raise ApiError(400, "INVALIDJOB", f"Job {job.id} is already {job.state}")
            job.state = "Aborted"
        elif wanted == "UploadComplete" and job.kind == "ingest" and job.state == "Open":
            job.state = "UploadComplete"
            reply = job.info()
            self._process(job)
            return Response(200, reply)
        else:
            raise ApiError(400, "INVALIDJOB", f"Cannot change job {job.id} from {job.state} to {wanted}")
        return Response(200, job.info())

    def delete_job(self, request: Request) -> Response:
        job = self._job(request, None)
        with self.state.lock:
            self.jobs.pop(job.id, None)
        return Response(204)

    def ingest_results(self, request: Request) -> Response:
        job = self._job(request, "ingest")
        which = request.params["which"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        if which == "successfulResults":
            writer.writerow(["sf__Id", "sf__Created", *job.columns])
            writer.writerows(job.successes)
        elif which == "failedResults":
            writer.writerow(["sf__Id", "sf__Error", *job.columns])
            writer.writerows(job.failures)
        else:
            writer.writerow(job.columns)
        return Response(200, out.getvalue(), content_type="text/csv")

    def _process(self, job: Job) -> None:
        """Apply every uploaded row; each row stands alone (Bulk ingest is never all-or-none)."""
        obj = object_def(job.object)
        assert obj is not None
        rows: list[list[str]] = []
        for upload in job.uploads:
            reader = csv.reader(io.StringIO(upload, newline=""), delimiter=DELIMITERS[job.delimiter])
            header = next(reader, None)
            if header is None:
                continue
            if not job.columns:
                job.columns = header
            elif header != job.columns:
                job.state, job.error_message = "Failed", "InvalidBatch : all uploads must share one header"
                return
            rows.extend(reader)
        unknown = [c for c in job.columns if obj.field(c) is None]
        if unknown:
            job.state, job.error_message = "Failed", f"InvalidBatch : Field name not found : {unknown[0]}"
            return
        if job.operation in ("delete", "hardDelete") and [c.lower() for c in job.columns] != ["id"]:
            job.state, job.error_message = "Failed", "InvalidBatch : The 'delete' batch must contain only 'Id'"
            return
        state = self.state
        for start in range(0, len(rows), ROWS_PER_LOCK):
            with state.lock:
                for row in rows[start : start + ROWS_PER_LOCK]:
                    self._apply(job, obj.name, row)
        job.state = "JobComplete"

    def _apply(self, job: Job, obj_name: str, row: list[str]) -> None:
        obj = object_def(obj_name)
        assert obj is not None
        values = dict(zip(job.columns, row, strict=False))
        record_id = next((v for k, v in values.items() if k.lower() == "id"), "")
        state = self.state
        with state.atomic() as undo:
            try:
                if job.operation == "insert" or (job.operation == "upsert" and not record_id):
                    created = dml.create(state, obj, values, from_csv=True)
                    job.successes.append([created["Id"], "true", *row])
                elif job.operation in ("update", "upsert"):
                    updated = dml.update(state, obj, record_id, values, from_csv=True)
                    job.successes.append([updated["Id"], "false", *row])
                else:
                    dml.delete(state, record_id, obj=obj, hard=job.operation == "hardDelete")
                    job.successes.append([record_id, "false", *row])
            except RecordError as exc:
                undo.rollback()
                job.failures.append([record_id, exc.bulk_text(), *row])

    def _job(self, request: Request, kind: str | None) -> Job:
        with self.state.lock:
            job = self.jobs.get(request.params["job"])
        if job is None or (kind is not None and job.kind != kind):
            raise not_found()
        return job


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
    return body


def _format(body: dict[str, Any]) -> tuple[str, str]:
    delimiter = str(body.get("columnDelimiter") or "COMMA")
    line_ending = str(body.get("lineEnding") or "LF")
    if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
        raise ApiError(400, "INVALIDJOB", f"Unsupported columnDelimiter/lineEnding: {delimiter}/{line_ending}")
    return delimiter, line_ending


def _encode_locator(offset: int) -> str:
    # Salesforce locators are opaque; base64 of the offset (unpadded) is what real ones look like
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str | None) -> int:
    if not locator or locator == "null":
        return 0
    try:
        return int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None
