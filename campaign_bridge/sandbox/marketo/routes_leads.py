"""Lead database routes: leads (by filter, sync), static lists and their members, activities.

Checked against swagger-mapi (AdobeDocs/marketo-apis ``static/swagger-mapi.json``) and the docs pages
``leads.md``, ``list-membership.md``, ``static-lists.md``, ``paging-tokens.md``, ``lead-database/activities``:

* ``GET /rest/v1/leads.json?filterType&filterValues(≤300)&fields&batchSize&nextPageToken`` (or POST with
  ``_method=GET``); more than 1,000 matches is ``1003`` "Too many results match the filter"; every lead
  sharing an email is returned (duplicates are allowed).
* ``POST /rest/v1/leads.json`` (``action`` createOrUpdate|createOnly|updateOnly|createDuplicate,
  ``lookupField`` default email, ``input`` ≤300): per record ``created``/``updated`` or ``skipped`` with
  1004 Lead not found, 1005 Lead already exists, 1007 Multiple leads match the lookup criteria; results in
  input order.
* ``GET /rest/v1/lists.json``, ``GET /rest/v1/lists/{id}/leads.json`` and the older
  ``/rest/v1/list/{id}/leads.json`` (which marketorestpython calls), default fields email, updatedAt,
  createdAt, lastName, firstName, id; ``POST``/``DELETE /rest/v1/lists/{id}/leads.json`` (query ``id`` or
  body ``{"input": [{"id"}]}``, ≤300) answering ``added``/``removed``/``skipped`` (1004 Lead not found, 1015
  Lead not in list); ``…/leads/ismember.json`` answering ``memberof``/``notmemberof``.
* ``GET /rest/v1/activities/pagingtoken.json?sinceDatetime`` and ``GET /rest/v1/activities.json?
  nextPageToken&activityTypeIds(≤10)&batchSize(≤300)``: activities oldest first, ``moreResult``, and
  ``nextPageToken`` always (the next call resumes there); ``result`` is absent when there are none. Adding
  a lead to a static list logs "Add to List" (24), removing it "Remove from List" (25), with the list's id
  as ``primaryAttributeValueId`` and its name as ``primaryAttributeValue``.
* ``GET /rest/v1/stats/usage.json``: today's calls, ``[{date, total, users: [{userId, count}]}]``.

[U] Not documented, chosen here: adding a lead already in the list answers ``added`` again (the call is
idempotent and says nothing about who was there) and logs no second Add to List; more than 300 ids in one
list call is ``1003``; an activity type id the instance does not have (``activities/types.json``) is ``1003``
naming it, as a missing ``nextPageToken`` or ``activityTypeIds`` is.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from campaign_bridge.sandbox.http import Request, Response, Router
from campaign_bridge.sandbox.marketo.state import ACTIVITY_TYPES, Lead, MarketoState, StaticList
from campaign_bridge.sandbox.marketo.wire import (
    MAX_BATCH,
    MAX_FILTER_VALUES,
    MarketoError,
    batch_size,
    int_ids,
    is_read,
    json_body,
    ok,
    page_token,
    params,
    skipped,
    token_position,
)

#: Fields a lead read returns when the caller names none.
DEFAULT_FIELDS = ("id", "email", "updatedAt", "createdAt", "firstName", "lastName")
#: Fields a lead may be looked up by (``filterType``); any searchable field in Marketo, these here.
FILTER_TYPES = ("id", "email", "cookies", "twitterId", "facebookId", "linkedInId", "sfdcLeadId", "sfdcContactId")
#: "Too many results match the filter" past this many matches.
MAX_FILTER_MATCHES = 1000
#: At most this many activity types per activities call.
MAX_ACTIVITY_TYPES = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def lead_view(lead: Lead, fields: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": lead.id}
    for name in fields:
        if name == "createdAt":
            out[name] = stamp(lead.created)
        elif name == "updatedAt":
            out[name] = stamp(lead.updated)
        elif name != "id":
            out[name] = lead.fields.get(name)
    return out


def field_list(values: dict[str, str], default: Sequence[str] = DEFAULT_FIELDS) -> list[str]:
    raw = values.get("fields")
    return [f.strip() for f in raw.split(",") if f.strip()] if raw else list(default)


def page(
    items: Sequence[Any], values: dict[str, str], scope: str, default_size: int = MAX_BATCH
) -> tuple[Sequence[Any], str | None]:
    """One page of ``items`` from the token's position; the next token when more remain."""
    size = batch_size(values, default_size)
    start = token_position(values.get("nextPageToken"), scope)
    chunk = items[start : start + size]
    more = start + size < len(items)
    return chunk, page_token(scope, start + size) if more else None


def paged(result: list[Any], token: str | None) -> Response:
    return ok(result, **({"nextPageToken": token} if token else {}))


def register(router: Router, state: MarketoState) -> None:
    # -- leads ------------------------------------------------------------------------------------
    def leads(request: Request) -> Response:
        if is_read(request):
            return _leads_by_filter(state, params(request))
        return _sync_leads(state, json_body(request))

    router.add("GET", r"/rest/v1/leads\.json", leads)
    router.add("POST", r"/rest/v1/leads\.json", leads)

    # -- static lists -----------------------------------------------------------------------------
    @router.route("GET", r"/rest/v1/lists\.json")
    def lists(request: Request) -> Response:
        values = params(request)
        rows = sorted(state.lists.values(), key=lambda s: s.id)
        if values.get("id"):
            wanted = set(int_ids(values["id"], "id"))
            rows = [s for s in rows if s.id in wanted]
        if values.get("name"):
            names = set(values["name"].split(","))
            rows = [s for s in rows if s.name in names]
        chunk, token = page(rows, values, "lists")
        result = [
            {
                "id": s.id,
                "name": s.name,
                "description": "",
                "programName": s.program_name,
                "workspaceName": "Default",
                "createdAt": stamp(s.created),
                "updatedAt": stamp(s.updated),
            }
            for s in chunk
        ]
        return paged(result, token)

    def list_leads(request: Request) -> Response:
        static = _static(state, request.params["list"])
        if not is_read(request):
            return _change_members(state, request, static.id)
        values = params(request)
        members = [state.leads[i] for i in static.members if i in state.leads]
        chunk, token = page(members, values, f"list{static.id}")
        return paged([lead_view(lead, field_list(values)) for lead in chunk], token)

    for prefix in ("lists", "list"):
        for method in ("GET", "POST", "DELETE"):
            router.add(method, rf"/rest/v1/{prefix}/(?P<list>[^/]+)/leads\.json", list_leads)

    def ismember(request: Request) -> Response:
        static = _static(state, request.params["list"])
        ids = _input_ids(request)
        return ok([{"id": i, "status": "memberof" if i in static.members else "notmemberof"} for i in ids])

    router.add("GET", r"/rest/v1/lists/(?P<list>[^/]+)/leads/ismember\.json", ismember)
    router.add("POST", r"/rest/v1/lists/(?P<list>[^/]+)/leads/ismember\.json", ismember)

    # -- usage ----------------------------------------------------------------------------------------
    @router.route("GET", r"/rest/v1/stats/usage\.json")
    def usage(request: Request) -> Response:
        used = state.limits.used_today
        day = datetime.fromtimestamp(state.clock(), UTC).strftime("%Y-%m-%d")
        return ok([{"date": day, "total": used, "users": [{"userId": "api@sandbox", "count": used}]}])

    # -- activities -------------------------------------------------------------------------------
    @router.route("GET", r"/rest/v1/activities/pagingtoken\.json")
    def paging(request: Request) -> Response:
        since = params(request).get("sinceDatetime")
        if not since:
            raise MarketoError("1003", "sinceDatetime is required")
        try:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise MarketoError("1003", f"Invalid sinceDatetime: {since}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        position = next(
            (i for i, a in enumerate(state.activities) if a.at >= moment.timestamp()), len(state.activities)
        )
        return ok(None, nextPageToken=page_token("activities", position))

    @router.route("GET", r"/rest/v1/activities/types\.json")
    def types(request: Request) -> Response:
        result = [
            {
                "id": type_id,
                "name": name,
                "primaryAttribute": {"name": primary, "dataType": "integer"},
                "attributes": [],
            }
            for type_id, (name, primary) in sorted(ACTIVITY_TYPES.items())
        ]
        return ok(result)

    @router.route("GET", r"/rest/v1/activities\.json")
    def activities(request: Request) -> Response:
        values = params(request)
        if not values.get("nextPageToken"):
            raise MarketoError("1003", "nextPageToken is required")
        if not values.get("activityTypeIds"):
            raise MarketoError("1003", "activityTypeIds is required")
        wanted = set(int_ids(values["activityTypeIds"], "activityTypeIds"))
        if len(wanted) > MAX_ACTIVITY_TYPES:
            raise MarketoError("1003", f"At most {MAX_ACTIVITY_TYPES} activityTypeIds")
        unknown = sorted(wanted - set(ACTIVITY_TYPES))
        if unknown:
            raise MarketoError("1003", f"Invalid activityTypeIds: {','.join(map(str, unknown))}")
        size = batch_size(values)
        position = token_position(values["nextPageToken"], "activities")
        rows: list[dict[str, Any]] = []
        log = state.activities
        while position < len(log) and len(rows) < size:
            a = log[position]
            position += 1
            if a.type_id in wanted and a.lead_id in state.leads:
                rows.append(
                    {
                        "id": a.id,
                        "marketoGUID": str(a.id),
                        "leadId": a.lead_id,
                        "activityDate": stamp(a.at),
                        "activityTypeId": a.type_id,
                        "primaryAttributeValueId": a.primary_id,
                        "primaryAttributeValue": a.primary,
                        "attributes": [],
                    }
                )
        more = position < len(log)
        extra: dict[str, Any] = {"nextPageToken": page_token("activities", position), "moreResult": more}
        return ok(rows or None, **extra)


def _static(state: MarketoState, raw: str) -> StaticList:
    if not raw.isdigit() or int(raw) not in state.lists:
        raise MarketoError("1013", f"List '{raw}' not found")
    return state.lists[int(raw)]


def _input_ids(request: Request) -> list[int]:
    """The lead ids of a list call: query ``id`` parameters, or ``{"input": [{"id"}]}`` in the body."""
    if "id" in request.query:
        ids = [int(v) for raw in request.query["id"] for v in int_ids(raw, "id")]
    else:
        data = json_body(request)
        items = data.get("input")
        if not isinstance(items, list) or not items:
            raise MarketoError("1003", "input is required")
        try:
            ids = [int(item["id"]) for item in items]
        except (KeyError, TypeError, ValueError):
            raise MarketoError("1003", "each input item needs a numeric id") from None
    if len(ids) > MAX_BATCH:
        raise MarketoError("1003", f"Input size {len(ids)} exceeds the maximum of {MAX_BATCH}")
    return ids


def _change_members(state: MarketoState, request: Request, list_id: int) -> Response:
    ids = _input_ids(request)
    result: list[dict[str, Any]] = []
    for lead_id in ids:
        if lead_id not in state.leads:
            result.append(skipped("1004", "Lead not found", id=lead_id))
        elif request.method == "DELETE":
            if state.remove_list_members(list_id, [lead_id]):
                result.append({"id": lead_id, "status": "removed"})
            else:
                result.append(skipped("1015", "Lead not in list", id=lead_id))
        else:
            state.add_list_members(list_id, [lead_id])
            result.append({"id": lead_id, "status": "added"})
    return ok(result)


def _leads_by_filter(state: MarketoState, values: dict[str, str]) -> Response:
    kind, raw = values.get("filterType"), values.get("filterValues")
    if not kind or raw is None:
        raise MarketoError("1003", "filterType and filterValues are required")
    if kind not in FILTER_TYPES:
        raise MarketoError("1003", f"Invalid filterType: {kind}")
    wanted = [v.strip() for v in raw.split(",") if v.strip()]
    if len(wanted) > MAX_FILTER_VALUES:
        raise MarketoError("1003", f"filterValues exceeds {MAX_FILTER_VALUES} values")
    if kind == "id":
        found = [state.leads[i] for i in int_ids(raw, "filterValues") if i in state.leads]
    elif kind == "email":
        ids = [i for v in dict.fromkeys(w.lower() for w in wanted) for i in state.by_email.get(v, [])]
        found = [state.leads[i] for i in ids]
    else:
        folded = {w.casefold() for w in wanted}
        found = [lead for lead in state.leads.values() if str(lead.fields.get(kind) or "").casefold() in folded]
    if len(found) > MAX_FILTER_MATCHES:
        raise MarketoError("1003", "Too many results match the filter")
    chunk, token = page(found, values, f"filter{zlib.crc32(f'{kind}:{raw}'.encode())}")
    return paged([lead_view(lead, field_list(values)) for lead in chunk], token)


def _sync_leads(state: MarketoState, data: dict[str, Any]) -> Response:
    action = data.get("action", "createOrUpdate")
    if action not in ("createOrUpdate", "createOnly", "updateOnly", "createDuplicate"):
        raise MarketoError("1003", f"Invalid action: {action}")
    lookup = data.get("lookupField", "email")
    items = data.get("input")
    if not isinstance(items, list) or not items:
        raise MarketoError("1003", "input is required")
    if len(items) > MAX_BATCH:
        raise MarketoError("1003", f"Input size {len(items)} exceeds the maximum of {MAX_BATCH}")
    result: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise MarketoError("609", "Invalid JSON: each input item is an object")
        result.append(_sync_one(state, action, lookup, item))
    return ok(result)


def _sync_one(state: MarketoState, action: str, lookup: str, item: dict[str, Any]) -> dict[str, Any]:
    email = item.get("email")
    if email is not None and (not isinstance(email, str) or not _EMAIL.match(email)):
        return skipped("1003", f"Value for field 'email' is invalid: {email!r}")
    key = item.get(lookup)
    if lookup == "id":
        matches = [int(key)] if isinstance(key, int) and key in state.leads else []
    elif lookup == "email":
        matches = list(state.by_email.get(str(key or "").lower(), []))
    else:
        matches = [i for i, lead in state.leads.items() if key is not None and lead.fields.get(lookup) == key]
    values = {k: v for k, v in item.items() if k != "id"}
    if action == "createDuplicate" or (not matches and action in ("createOrUpdate", "createOnly")):
        if lookup == "email" and not email:
            return skipped("1003", "Field 'email' is required to create a lead")
        return {"id": state.add_lead(values.pop("email", None), **values), "status": "created"}
    if not matches:
        return skipped("1004", "Lead not found")
    if action == "createOnly":
        return skipped("1005", "Lead already exists")
    if len(matches) > 1:
        return skipped("1007", "Multiple lead match lookup criteria")
    state.update_lead(matches[0], values)
    return {"id": matches[0], "status": "updated"}
