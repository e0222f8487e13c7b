"""Bulk lead import: a CSV file of leads, processed as an asynchronous batch.

Checked against AdobeDocs ``help/rest-api/bulk-lead-import.md`` and swagger-mapi (``importLeadUsingPOST``,
``getImportLeadStatusUsingGET``, ``getImportLeadFailuresUsingGET``): ``POST /bulk/v1/leads.json`` as
``multipart/form-data`` with ``file``, ``format`` (csv), ``lookupField`` (default email; ``id`` among the
allowed) and an optional ``listId`` (every imported lead is added to that static list) → ``{batchId,
importId, status: "Queued"}``; ``GET /bulk/v1/leads/batch/{batchId}.json`` → ``status`` (Queued, Importing,
Complete, Failed), ``numOfLeadsProcessed``, ``numOfRowsFailed``, ``numOfRowsWithWarning``, ``message``;
``GET /bulk/v1/leads/batch/{batchId}/failures.json`` → the failed rows as CSV, with an added column
"Import Failure Reason". A file is at most 10 MB; at most 10 imports may be queued (``1016`` "Too many
imports"). [U] The reason given for a row whose ``id`` matches no lead ("Lead not found").

The emulator processes a batch when it is uploaded, so the first status call answers ``Complete``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from campaign_bridge.sandbox.http import Request, Response, Router
from campaign_bridge.sandbox.marketo.state import MarketoState
from campaign_bridge.sandbox.marketo.wire import MarketoError, ok

#: The largest file an import takes.
MAX_FILE = 10 * 1024 * 1024
FAILURE_COLUMN = "Import Failure Reason"


@dataclass(slots=True)
class ImportBatch:
    id: int
    header: list[str]
    processed: int = 0
    failed: list[tuple[list[str], str]] = field(default_factory=list)


def _form(request: Request) -> tuple[dict[str, str], bytes]:
    """The text fields and the file of a multipart/form-data body."""
    content_type = request.headers.get("content-type", "")
    if "multipart/form-data" not in content_type:
        raise MarketoError("1003", "A multipart/form-data body with a file is required")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.body
    )
    fields: dict[str, str] = {k: v[-1] for k, v in request.query.items()}
    file = b""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if not isinstance(payload, bytes):
            continue
        if part.get_filename() is not None or name == "file":
            file = payload
        elif isinstance(name, str):
            fields[name] = payload.decode("utf-8")
    return fields, file


def register(router: Router, state: MarketoState, batches: dict[int, ImportBatch]) -> None:
    @router.route("POST", r"/bulk/v1/leads\.json")
    def upload(request: Request) -> Response:
        fields, file = _form(request)
        if not file:
            raise MarketoError("1003", "file is required")
        if len(file) > MAX_FILE:
            raise MarketoError("1003", "File size exceeds 10MB")
        if fields.get("format", "csv").lower() != "csv":
            raise MarketoError("1003", "Only csv is supported here")
        lookup = fields.get("lookupField", "email")
        list_id = int(fields["listId"]) if fields.get("listId", "").isdigit() else None
        if list_id is not None and list_id not in state.lists:
            raise MarketoError("1013", f"List '{list_id}' not found")
        rows = list(csv.reader(io.StringIO(file.decode("utf-8"))))
        if not rows or lookup not in rows[0]:
            raise MarketoError("1003", f"The file's header must name the lookup field {lookup!r}")
        batch = ImportBatch(len(batches) + 1, rows[0])
        for row in rows[1:]:
            values = dict(zip(rows[0], row, strict=False))
            lead_id = _import_one(state, lookup, values)
            if isinstance(lead_id, str):
                batch.failed.append((row, lead_id))
                continue
            batch.processed += 1
            if list_id is not None:
                state.add_list_members(list_id, [lead_id])
        batches[batch.id] = batch
        return ok([{"batchId": batch.id, "importId": str(batch.id), "status": "Queued"}])

    @router.route("GET", r"/bulk/v1/leads/batch/(?P<batch>\d+)\.json")
    def status(request: Request) -> Response:
        batch = _batch(batches, request)
        return ok(
            [
                {
                    "batchId": batch.id,
                    "importId": str(batch.id),
                    "status": "Complete",
                    "numOfLeadsProcessed": batch.processed,
                    "numOfRowsFailed": len(batch.failed),
                    "numOfRowsWithWarning": 0,
                    "message": "Import completed with errors" if batch.failed else "Import succeeded",
                }
            ]
        )

    @router.route("GET", r"/bulk/v1/leads/batch/(?P<batch>\d+)/failures\.json")
    def failures(request: Request) -> Response:
        batch = _batch(batches, request)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*batch.header, FAILURE_COLUMN])
        for row, reason in batch.failed:
            writer.writerow([*row, reason])
        return Response(200, out.getvalue(), content_type="text/csv")


def _batch(batches: dict[int, ImportBatch], request: Request) -> ImportBatch:
    batch = batches.get(int(request.params["batch"]))
    if batch is None:
        raise MarketoError("1003", f"Import batch {request.params['batch']} not found")
    return batch


def _import_one(state: MarketoState, lookup: str, values: dict[str, Any]) -> int | str:
    """The lead a row created or updated, or why it failed."""
    key = values.get(lookup) or ""
    fields = {k: v for k, v in values.items() if k not in ("id", lookup) and v != ""}
    if lookup == "id":
        if not key.isdigit() or int(key) not in state.leads:
            return "Lead not found"
        if fields:
            state.update_lead(int(key), fields)
        return int(key)
    matches = state.by_email.get(key.lower(), []) if lookup == "email" else []
    if len(matches) > 1:
        return "Multiple leads match the lookup criteria"
    if matches:
        state.update_lead(matches[0], fields)
        return matches[0]
    if not key:
        return f"Missing value for {lookup}"
    return state.add_lead(key, **fields)
