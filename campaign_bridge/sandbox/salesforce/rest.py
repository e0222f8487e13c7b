"""REST resources under ``/services/data/vXX.X/``: query/queryAll (+ queryMore), sObject rows and
describe, updated/deleted feeds and ``limits``. sObject Collections live in ``collections``.

Handlers raise ``ApiError`` for whole-request failures; the app turns it into the array error body.
"""

from __future__ import annotations

from typing import Any

from ..http import Request, Response, Router
from . import dml
from .access import as_permitted
from .errors import ApiError, RecordError, not_found
from .ids import to_18
from .query import compile_query
from .schema import OBJECTS, ObjectDef, object_def
from .state import Cursor, SalesforceState
from .values import format_datetime, parse_datetime, to_json

V = r"/services/data/v(?P<version>\d+\.\d+)"
DEFAULT_BATCH = 2000
MIN_BATCH = 200


class RestApi:
    def __init__(self, state: SalesforceState) -> None:
        self.state = state

    def register(self, router: Router) -> None:
        router.add("GET", rf"{V}/?", self.resources)
        router.add("GET", rf"{V}/limits/?", self.limits)
        router.add("GET", rf"{V}/(?P<kind>query|queryAll)/?", self.query)
        router.add("GET", rf"{V}/(?P<kind>query|queryAll)/(?P<locator>[0-9A-Za-z]+)-(?P<offset>\d+)/?", self.query_more)
        router.add("GET", rf"{V}/sobjects/?", self.describe_global)
        router.add("GET", rf"{V}/sobjects/(?P<sobject>\w+)/?", self.sobject_info)
        router.add("POST", rf"{V}/sobjects/(?P<sobject>\w+)/?", self.create)
        router.add("GET", rf"{V}/sobjects/(?P<sobject>\w+)/describe/?", self.describe)
        router.add("GET", rf"{V}/sobjects/(?P<sobject>\w+)/(?P<feed>updated|deleted)/?", self.feed)
        router.add("GET", rf"{V}/sobjects/(?P<sobject>\w+)/(?P<id>\w+)/?", self.get_record)
        router.add("PATCH", rf"{V}/sobjects/(?P<sobject>\w+)/(?P<id>\w+)/?", self.update_record)
        router.add("DELETE", rf"{V}/sobjects/(?P<sobject>\w+)/(?P<id>\w+)/?", self.delete_record)

    # ---- misc ----------------------------------------------------------------------------------------

    def resources(self, request: Request) -> Response:
        v = request.params["version"]
        names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs")
        return Response(200, {name: f"/services/data/v{v}/{name}" for name in names})

    def limits(self, request: Request) -> Response:
        state = self.state
        with state.lock:
            api_max = state.usage_max
            remaining = max(api_max - state.api_usage, 0)
        return Response(
            200,
            {
                "DailyApiRequests": {"Max": api_max, "Remaining": remaining},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            },
        )

    # ---- query ---------------------------------------------------------------------------------------

    def query(self, request: Request) -> Response:
        text = request.arg("q")
        if not text:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        include_deleted = request.params["kind"] == "queryAll"
        state = self.state
        with state.lock:
            bound = compile_query(state, text)
            rows = bound.run(include_deleted=include_deleted)
            if bound.count:
                return Response(200, {"totalSize": len(rows), "done": True, "records": []})
            cursor = Cursor(
                locator=state.ids.new("01g"),
                rows=rows,
                render=bound,
                version=request.params["version"],
                include_deleted=include_deleted,
                batch_size=_batch_size(request),
            )
            return Response(200, self._page(cursor, 0, cursor.batch_size, request.params["kind"]))

    def query_more(self, request: Request) -> Response:
        state = self.state
        with state.lock:
            cursor = state.cursors.get(request.params["locator"])
            offset = int(request.params["offset"])
            if cursor is None or offset > len(cursor.rows):
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            state.cursors.move_to_end(cursor.locator)
            batch = _batch_size(request) if "sforce-query-options" in request.headers else cursor.batch_size
            return Response(200, self._page(cursor, offset, batch, request.params["kind"]))

    def _page(self, cursor: Cursor, offset: int, batch: int, kind: str) -> dict[str, Any]:
        rows = cursor.rows[offset : offset + batch]
        body: dict[str, Any] = {
            "totalSize": len(cursor.rows),
            "done": offset + batch >= len(cursor.rows),
            "records": [cursor.render.to_json(r, cursor.version) for r in rows],
        }
        if not body["done"]:
            self.state.remember_cursor(cursor)
            body["nextRecordsUrl"] = f"/services/data/v{cursor.version}/{kind}/{cursor.locator}-{offset + batch}"
        return body

    # ---- sObjects ------------------------------------------------------------------------------------

    def describe_global(self, request: Request) -> Response:
        v = request.params["version"]
        sobjects = [
            as_permitted(
                self.state.revoked,
                o.name,
                {
                    "name": o.name,
                    "label": o.name,
                    "keyPrefix": o.prefix,
                    "queryable": True,
                    "createable": True,
                    "updateable": True,
                    "deletable": True,
                    "custom": False,
                    "urls": {"sobject": f"/services/data/v{v}/sobjects/{o.name}"},
                },
            )
            for o in OBJECTS.values()
        ]
        return Response(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    def sobject_info(self, request: Request) -> Response:
        obj = _object(request)
        description = as_permitted(self.state.revoked, obj.name, obj.describe())
        info = {k: v for k, v in description.items() if k not in ("fields", "childRelationships")}
        return Response(200, {"objectDescribe": info, "recentItems": []})

    def describe(self, request: Request) -> Response:
        obj = _object(request)
        return Response(200, as_permitted(self.state.revoked, obj.name, obj.describe()))

    def create(self, request: Request) -> Response:
        obj = _object(request)
        body = _json_object(request)
        state = self.state
        with state.lock, state.atomic() as undo:
            try:
                rec = dml.create(state, obj, body)
            except RecordError as exc:
                undo.rollback()
                raise exc.as_api_error() from None
        return Response(201, {"id": rec["Id"], "success": True, "errors": []})

    def get_record(self, request: Request) -> Response:
        obj = _object(request)
        state = self.state
        with state.lock:
            rec = _find(state, obj, request.params["id"])
            wanted = request.arg("fields")
            fields = obj.fields
            if wanted:
                fields = tuple(f for f in (obj.field(n.strip()) for n in wanted.split(",")) if f is not None)
            out: dict[str, Any] = {
                "attributes": {
                    "type": obj.name,
                    "url": f"/services/data/v{request.params['version']}/sobjects/{obj.name}/{rec['Id']}",
                }
            }
            for f in fields:
                out[f.name] = to_json(state.accessor(obj, f)(rec))
        return Response(200, out)

    def update_record(self, request: Request) -> Response:
        obj = _object(request)
        body = _json_object(request)
        state = self.state
        with state.lock, state.atomic() as undo:
            _find(state, obj, request.params["id"])
            try:
                dml.update(state, obj, request.params["id"], body)
            except RecordError as exc:
                undo.rollback()
                raise exc.as_api_error() from None
        return Response(204)

    def delete_record(self, request: Request) -> Response:
        obj = _object(request)
        state = self.state
        with state.lock, state.atomic() as undo:
            _find(state, obj, request.params["id"], deleted_ok=True)
            try:
                dml.delete(state, request.params["id"], obj=obj)
            except RecordError as exc:
                undo.rollback()
                raise exc.as_api_error(404 if exc.code == "ENTITY_IS_DELETED" else 400) from None
        return Response(204)

    def feed(self, request: Request) -> Response:
        """``updated/`` and ``deleted/``: ids changed (or deleted) between ``start`` and ``end``."""
        obj = _object(request)
        try:
            start = parse_datetime(request.arg("start") or "")
            end = parse_datetime(request.arg("end") or "")
        except ValueError:
            raise ApiError(400, "INVALID_REPLICATION_DATE", "start and end must be datetimes") from None
        deleted = request.params["feed"] == "deleted"
        with self.state.lock:
            rows = [
                r
                for r in self.state.tables[obj.name].values()
                if r["IsDeleted"] == deleted and start <= r["SystemModstamp"] <= end
            ]
        if deleted:
            body: dict[str, Any] = {
                "deletedRecords": [{"id": r["Id"], "deletedDate": format_datetime(r["SystemModstamp"])} for r in rows],
                "earliestDateAvailable": format_datetime(start),
                "latestDateCovered": format_datetime(end),
            }
        else:
            body = {"ids": [r["Id"] for r in rows], "latestDateCovered": format_datetime(end)}
        return Response(200, body)


def _batch_size(request: Request) -> int:
    """The page size asked for in ``Sforce-Query-Options: batchSize=N``, clamped to 200..2000."""
    header = request.headers.get("sforce-query-options", "")
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(MIN_BATCH, min(DEFAULT_BATCH, int(value)))
    return DEFAULT_BATCH


def _object(request: Request) -> ObjectDef:
    obj = object_def(request.params["sobject"])
    if obj is None:
        raise not_found()
    return obj


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from a non-object value")
    return body


def _find(state: SalesforceState, obj: ObjectDef, raw_id: str, *, deleted_ok: bool = False) -> dict[str, Any]:
    record_id = to_18(raw_id)
    if record_id is None:
        raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {raw_id}")
    rec = state.tables[obj.name].get(record_id)
    if rec is None:
        raise not_found()
    if rec["IsDeleted"]:
        if deleted_ok:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        raise not_found()
    return rec
