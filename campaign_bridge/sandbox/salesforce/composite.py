"""sObject Collections: ``composite/sobjects`` create (POST), update (PATCH), delete (DELETE) and
retrieve (GET ``composite/sobjects/{Type}``).

A well-formed request answers HTTP 200 with one SaveResult per record, in request order, even when
records fail. Over 200 records is a 400 EXCEEDED_ID_LIMIT. With ``allOrNone`` true, one failure rolls
every change of the request back: failing records keep their own error, the others report
ALL_OR_NONE_OPERATION_ROLLED_BACK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..http import Request, Response, Router
from . import dml
from .errors import ApiError, RecordError
from .ids import to_18
from .rest import V
from .schema import ObjectDef, object_def
from .state import SalesforceState
from .values import to_json

MAX_RECORDS = 200
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}


def too_many() -> ApiError:
    return ApiError(
        400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call"
    )


class CollectionsApi:
    def __init__(self, state: SalesforceState) -> None:
        self.state = state

    def register(self, router: Router) -> None:
        router.add("POST", rf"{V}/composite/sobjects/?", self.create)
        router.add("PATCH", rf"{V}/composite/sobjects/?", self.update)
        router.add("DELETE", rf"{V}/composite/sobjects/?", self.delete)
        router.add("GET", rf"{V}/composite/sobjects/(?P<sobject>\w+)/?", self.retrieve)

    def create(self, request: Request) -> Response:
        all_or_none, records = _records(request)
        typed = [_typed(r) for r in records]
        for obj, record in typed:
            _check_field_names(obj, record)
        state = self.state

        def op(index: int) -> str:
            obj, record = typed[index]
            if any(k.lower() == "id" for k in record):
                raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            return str(dml.create(state, obj, record)["Id"])

        return Response(200, self._run(len(typed), op, all_or_none, ids=[None] * len(typed)))

    def update(self, request: Request) -> Response:
        all_or_none, records = _records(request)
        typed = [_typed(r) for r in records]
        for obj, record in typed:
            _check_field_names(obj, record)
        ids = [next((v for k, v in r.items() if k.lower() == "id"), None) for _, r in typed]
        state = self.state

        def op(index: int) -> str:
            obj, record = typed[index]
            return str(dml.update(state, obj, ids[index], record)["Id"])

        return Response(200, self._run(len(typed), op, all_or_none, ids=[_id_or_none(i) for i in ids]))

    def delete(self, request: Request) -> Response:
        raw_ids = [i for i in (request.arg("ids") or "").split(",") if i]
        if not raw_ids:
            raise ApiError(400, "MISSING_ARGUMENT", "The ids parameter is required")
        if len(raw_ids) > MAX_RECORDS:
            raise too_many()
        all_or_none = (request.arg("allOrNone") or "false").lower() == "true"
        state = self.state

        def op(index: int) -> str:
            dml.delete(state, raw_ids[index])
            return str(to_18(raw_ids[index]))

        return Response(200, self._run(len(raw_ids), op, all_or_none, ids=[_id_or_none(i) for i in raw_ids]))

    def retrieve(self, request: Request) -> Response:
        obj = object_def(request.params["sobject"])
        if obj is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        raw_ids = [i for i in (request.arg("ids") or "").split(",") if i]
        names = [n.strip() for n in (request.arg("fields") or "").split(",") if n.strip()]
        if not raw_ids or not names:
            raise ApiError(400, "MISSING_ARGUMENT", "ids and fields are required")
        fields = []
        for name in names:
            field = obj.field(name)
            if field is None:
                raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'")
            fields.append(field)
        version = request.params["version"]
        out: list[dict[str, Any] | None] = []
        with self.state.lock:
            for raw in raw_ids:
                record_id = to_18(raw)
                rec = self.state.live(obj.name, record_id) if record_id else None
                if rec is None:
                    out.append(None)
                    continue
                row: dict[str, Any] = {
                    "attributes": {
                        "type": obj.name,
                        "url": f"/services/data/v{version}/sobjects/{obj.name}/{rec['Id']}",
                    }
                }
                for field in fields:
                    row[field.name] = to_json(self.state.accessor(obj, field)(rec))
                out.append(row)
        return Response(200, out)

    def _run(
        self, count: int, op: Callable[[int], str], all_or_none: bool, *, ids: list[str | None]
    ) -> list[dict[str, Any]]:
        """Apply ``op`` to each record in order, each atomically; with all-or-none, undo all on any failure."""
        state = self.state
        outcomes: list[str | RecordError] = []
        with state.lock, state.atomic() as request_undo:
            for index in range(count):
                with state.atomic() as record_undo:
                    try:
                        outcomes.append(op(index))
                    except RecordError as exc:
                        record_undo.rollback()
                        outcomes.append(exc)
            failed = any(isinstance(o, RecordError) for o in outcomes)
            if all_or_none and failed:
                request_undo.rollback()
        results: list[dict[str, Any]] = []
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, RecordError):
                result: dict[str, Any] = {"success": False, "errors": [outcome.save_error()]}
                if ids[index] is not None:
                    result = {"id": ids[index], **result}
            elif all_or_none and failed:
                result = {"success": False, "errors": [dict(ROLLED_BACK)]}
                if ids[index] is not None:
                    result = {"id": ids[index], **result}
            else:
                result = {"id": outcome, "success": True, "errors": []}
            results.append(result)
        return results


def _records(request: Request) -> tuple[bool, list[dict[str, Any]]]:
    try:
        body = request.json()
    except ValueError:
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected an object with a records array")
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise too_many()
    if not all(isinstance(r, dict) for r in records):
        raise ApiError(400, "JSON_PARSER_ERROR", "Each record must be an object")
    return bool(body.get("allOrNone", False)), records


def _typed(record: dict[str, Any]) -> tuple[ObjectDef, dict[str, Any]]:
    attributes = record.get("attributes")
    type_name = attributes.get("type") if isinstance(attributes, dict) else None
    if not isinstance(type_name, str):
        raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    obj = object_def(type_name)
    if obj is None:
        raise ApiError(400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
    return obj, record


def _check_field_names(obj: ObjectDef, record: dict[str, Any]) -> None:
    # an unknown field fails the whole request: Salesforce cannot deserialize the body
    for name in record:
        if name != "attributes" and obj.field(name) is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", [name])


def _id_or_none(raw: Any) -> str | None:
    return to_18(raw) if isinstance(raw, str) else None
