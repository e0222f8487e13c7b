"""The Account Engagement emulator's request pipeline: Salesforce login, the v5 headers, limits, routes.

Login: the business unit belongs to a Salesforce org, and Pardot takes that org's OAuth access tokens.
The emulator serves the org's login endpoints itself with the Salesforce sandbox's own code
(``sandbox.salesforce.auth.AuthApi`` over a ``SalesforceState`` that holds the org's identity, users and
sessions), so a client logs in here exactly as it would at ``login.salesforce.com`` and then calls
``/api/v5`` with the token, or it is handed the state of a running Salesforce sandbox and accepts that
org's tokens. Every v5 request needs ``Authorization: Bearer`` and ``Pardot-Business-Unit-Id`` [D]: a
token the org did not issue is 184, a missing header 181, an unknown business unit 201.

Limits (when ``state.limits``): more than ``MAX_CONCURRENT`` requests in flight is code 66 and a spent
daily allotment code 122, both without ``Retry-After`` [D/T]. ``latency`` seconds are spent in each
request's slot (the time a real business unit takes to answer), so the cap has a cost a benchmark can see.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

from ..http import Request, Response, Router
from ..salesforce.auth import AuthApi
from ..salesforce.state import SalesforceState
from . import objects
from .errors import (
    ALREADY_A_MEMBER,
    BAD_TOKEN,
    CONCURRENT_LIMIT,
    DAILY_LIMIT,
    DUPLICATE_EMAIL,
    DYNAMIC_LIST,
    INVALID_CAMPAIGN,
    INVALID_EMAIL,
    INVALID_FIELDS,
    INVALID_LIST,
    INVALID_PARAMETER,
    MISSING_HEADER,
    NOT_FOUND,
    UNKNOWN_BUSINESS_UNIT,
    ApiError,
    bad_request,
)
from .state import API_USER_ID, Export, PardotState

#: Longest email a prospect may have [U: the field is a 255-character string in Pardot's field reference].
MAX_EMAIL = 255
#: Rows per export file [U: v5 splits an export into files of varying size].
EXPORT_FILE_ROWS = 500_000
#: Prospect fields a create or update may set, API name → attribute.
WRITABLE = {
    "email": "email",
    "firstName": "first_name",
    "lastName": "last_name",
    "company": "company",
    "score": "score",
    "grade": "grade",
    "campaignId": "campaign_id",
    "salesforceId": "salesforce_id",
    "optedOut": "opted_out",
}
#: Export objects and the v5 object they read.
EXPORT_OBJECTS = {"Prospect": "prospects", "ListMembership": "list-memberships"}


class PardotApp:
    """``(Request) -> Response`` for ``SandboxServer``: one business unit's v5 API over ``state``."""

    def __init__(
        self,
        state: PardotState,
        org: SalesforceState,
        base_url: Callable[[], str],
        *,
        latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state, self.org, self.base_url = state, org, base_url
        self.latency, self.sleep = latency, sleep
        self.login = Router()
        AuthApi(org, base_url).register(self.login)
        self.router = Router()
        r = self.router
        r.add("GET", r"/api/v5/objects/(?P<object>[a-z-]+)", self.query)
        r.add("GET", r"/api/v5/objects/(?P<object>[a-z-]+)/(?P<id>\d+)", self.read)
        r.add("POST", r"/api/v5/objects/prospects", self.create_prospect)
        r.add("PATCH", r"/api/v5/objects/prospects/(?P<id>\d+)", self.update_prospect)
        r.add("POST", r"/api/v5/objects/list-memberships", self.create_membership)
        r.add("DELETE", r"/api/v5/objects/list-memberships/(?P<id>\d+)", self.delete_membership)
        r.add("POST", r"/api/v5/exports", self.create_export)
        r.add("GET", r"/api/v5/exports/(?P<id>\d+)", self.read_export)
        r.add("GET", r"/api/v5/exports/(?P<id>\d+)/results/(?P<n>\d+)", self.export_file)

    def __call__(self, request: Request) -> Response:
        if request.path.startswith("/services/"):
            return self.login.dispatch(request)
        state = self.state
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not self.org.session_valid(token.strip()):
            return ApiError(401, BAD_TOKEN).response()
        unit = request.headers.get("pardot-business-unit-id")
        if not unit:
            return bad_request(MISSING_HEADER).response()
        if unit != state.business_unit_id:
            return bad_request(UNKNOWN_BUSINESS_UNIT).response()
        if not state.enter():
            return ApiError(429, CONCURRENT_LIMIT).response()
        try:
            if not state.charge():
                return ApiError(429, DAILY_LIMIT).response()
            if self.latency:
                self.sleep(self.latency)
            with state.lock:
                try:
                    return self.router.dispatch(request)
                except ApiError as exc:
                    return exc.response()
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return bad_request(INVALID_PARAMETER, "The request body is not valid JSON").response()
        finally:
            state.leave()

    # ---- reads ------------------------------------------------------------------------------------
    def _object(self, request: Request) -> objects.ObjectType:
        obj = objects.OBJECTS.get(request.params["object"])
        if obj is None:
            raise ApiError(404, NOT_FOUND, f"Unknown object: {request.params['object']}")
        return obj

    def query(self, request: Request) -> Response:
        body, headers = objects.query(self.state, self._object(request), request, self.base_url())
        return Response(200, body, headers=headers)

    def read(self, request: Request) -> Response:
        obj = self._object(request)
        fields = objects.parse_fields(obj, request.arg("fields"))
        record = next((r for r in obj.records(self.state, {}) if r.id == int(request.params["id"])), None)
        if record is None:
            raise ApiError(404, NOT_FOUND, "The requested object does not exist")
        return Response(200, objects.render(self.state, obj, record, fields))

    # ---- prospects --------------------------------------------------------------------------------
    def _prospect_values(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request(INVALID_PARAMETER, "The request body must be a JSON object")
        unknown = set(body) - set(WRITABLE)
        if unknown:
            raise bad_request(INVALID_FIELDS, f"Invalid fields for request type: {', '.join(sorted(unknown))}")
        values = {WRITABLE[k]: v for k, v in body.items()}
        email = values.get("email")
        if "email" in values and (
            not isinstance(email, str) or "@" not in email or " " in email.strip() or len(email) > MAX_EMAIL
        ):
            raise bad_request(INVALID_EMAIL, f"Invalid prospect email address: {email!r}")
        campaign = values.get("campaign_id")
        if "campaign_id" in values and campaign not in self.state.campaigns:
            raise bad_request(INVALID_CAMPAIGN, f"Invalid campaign ID: {campaign!r}")
        return values

    def create_prospect(self, request: Request) -> Response:
        obj = objects.OBJECTS["prospects"]
        fields = objects.parse_fields(obj, request.arg("fields"))
        values = self._prospect_values(request.json())
        email = values.pop("email", None)
        if email is None:
            raise bad_request(INVALID_EMAIL, "A prospect needs an email address")
        if not self.state.ampsea and self.state.by_email(email):
            raise bad_request(DUPLICATE_EMAIL, "A prospect with this email address already exists")
        campaign = values.pop("campaign_id", None)
        prospect_id = self.state.add_prospect(email.strip(), campaign_id=campaign, **values)
        location = f"{self.base_url()}/api/v5/objects/prospects/{prospect_id}"
        body = objects.render(self.state, obj, self.state.prospects[prospect_id], fields)
        return Response(201, body, headers={"Location": location})

    def update_prospect(self, request: Request) -> Response:
        obj = objects.OBJECTS["prospects"]
        fields = objects.parse_fields(obj, request.arg("fields"))
        prospect = self.state.prospects.get(int(request.params["id"]))
        if prospect is None or prospect.is_deleted:
            raise ApiError(404, NOT_FOUND, "The requested object does not exist")
        self.state.update_prospect(prospect.id, **self._prospect_values(request.json()))
        return Response(200, objects.render(self.state, obj, prospect, fields))

    # ---- list memberships -------------------------------------------------------------------------
    def create_membership(self, request: Request) -> Response:
        obj = objects.OBJECTS["list-memberships"]
        fields = objects.parse_fields(obj, request.arg("fields"))
        body = request.json()
        if not isinstance(body, dict) or set(body) - {"listId", "prospectId", "optedOut"}:
            raise bad_request(INVALID_FIELDS, "Send listId, prospectId and optionally optedOut")
        list_id, prospect_id = body.get("listId"), body.get("prospectId")
        pardot_list = self.state.lists.get(list_id) if isinstance(list_id, int) else None
        if pardot_list is None:
            raise bad_request(INVALID_LIST, f"Invalid list ID: {list_id!r}")
        if pardot_list.is_dynamic:
            raise bad_request(DYNAMIC_LIST, "Dynamic list memberships cannot be created or deleted")
        prospect = self.state.prospects.get(prospect_id) if isinstance(prospect_id, int) else None
        if prospect is None or prospect.is_deleted:
            raise bad_request(NOT_FOUND, f"Invalid prospect ID: {prospect_id!r}")
        if self.state.membership_of(pardot_list.id, prospect.id) is not None:
            raise bad_request(ALREADY_A_MEMBER)
        member_id = self.state.add_member(
            pardot_list.id, prospect.id, by=API_USER_ID, opted_out=bool(body.get("optedOut", False))
        )
        member = self.state.memberships[member_id]
        location = f"{self.base_url()}/api/v5/objects/list-memberships/{member_id}"
        return Response(201, objects.render(self.state, obj, member, fields), headers={"Location": location})

    def delete_membership(self, request: Request) -> Response:
        member = self.state.memberships.get(int(request.params["id"]))
        if member is None:
            raise ApiError(404, NOT_FOUND, "The requested object does not exist")
        if self.state.lists[member.list_id].is_dynamic:
            raise bad_request(DYNAMIC_LIST, "Dynamic list memberships cannot be created or deleted")
        self.state.remove_member(member.id)
        return Response(204)

    # ---- exports ----------------------------------------------------------------------------------
    def create_export(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise bad_request(INVALID_PARAMETER, "The request body must be a JSON object")
        name = EXPORT_OBJECTS.get(str(body.get("object")))
        if name is None:
            raise bad_request(INVALID_PARAMETER, f"Invalid export object: {body.get('object')!r}")
        obj = objects.OBJECTS[name]
        raw_fields = body.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            raise bad_request(INVALID_FIELDS, "The fields parameter is required")
        fields = objects.parse_fields(obj, ",".join(str(f) for f in raw_fields))
        procedure = body.get("procedure") or {}
        arguments = procedure.get("arguments") or {} if isinstance(procedure, dict) else {}
        records = self._export_rows(name, str(procedure.get("name") if isinstance(procedure, dict) else ""), arguments)
        rows = [objects.render(self.state, obj, r, fields) for r in records]
        export = Export(self.state.next_id(), str(body["object"]), rows, fields, self.state.now())
        self.state.exports[export.id] = export
        return Response(201, self._export_body(export, done=False))

    def _export_rows(self, name: str, procedure: str, arguments: dict[str, Any]) -> list[Any]:
        state = self.state
        if name == "list-memberships" and procedure == "filter_by_list_id":
            list_id = arguments.get("listId")
            if list_id not in state.lists:
                raise bad_request(INVALID_LIST, f"Invalid list ID: {list_id!r}")
            return sorted(state.members(list_id), key=lambda m: m.id)
        if name == "prospects" and procedure == "filter_by_updated_at":
            after = arguments.get("updatedAfter")
            floor = objects.parse_value("updatedAt", "gt", after) if after else None
            return [
                p
                for p in sorted(state.prospects.values(), key=lambda p: p.id)
                if not p.is_deleted and (floor is None or p.updated_at > floor)
            ]
        raise bad_request(INVALID_PARAMETER, f"Invalid export procedure {procedure!r} for this object")

    def _export_body(self, export: Export, *, done: bool) -> dict[str, Any]:
        refs = None
        if done:
            files = max(1, -(-len(export.rows) // EXPORT_FILE_ROWS))
            refs = [f"{self.base_url()}/api/v5/exports/{export.id}/results/{n}" for n in range(1, files + 1)]
        return {
            "id": export.id,
            "object": export.object,
            "status": "Complete" if done else "Waiting",
            "fields": export.fields,
            "createdAt": objects.stamp(export.created_at),
            "resultRefs": refs,
        }

    def read_export(self, request: Request) -> Response:
        export = self.state.exports.get(int(request.params["id"]))
        if export is None:
            raise ApiError(404, NOT_FOUND, "The requested object does not exist")
        export.polled = True
        return Response(200, self._export_body(export, done=True))

    def export_file(self, request: Request) -> Response:
        export = self.state.exports.get(int(request.params["id"]))
        n = int(request.params["n"])
        if export is None or not export.polled or not 1 <= n <= max(1, -(-len(export.rows) // EXPORT_FILE_ROWS)):
            raise ApiError(404, NOT_FOUND, "The requested object does not exist")
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(export.fields)
        for row in export.rows[(n - 1) * EXPORT_FILE_ROWS : n * EXPORT_FILE_ROWS]:
            writer.writerow([_cell(row, f) for f in export.fields])
        return Response(200, out.getvalue(), content_type="text/csv")


def _cell(row: dict[str, Any], name: str) -> Any:
    base, _, sub = name.partition(".")
    value = (row.get(base) or {}).get(sub) if sub else row.get(name)
    return "" if value is None else value
