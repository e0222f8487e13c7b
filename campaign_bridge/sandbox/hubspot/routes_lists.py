"""Lists v3 routes (``/crm/v3/lists``): create, fetch (by id, ids, name), search, rename, delete, and
memberships (page by recordId or join order, add, remove, add-and-remove, add-from, clear, a record's
lists). Handlers run under ``state.lock`` (see ``app.py``).

Writes to a DYNAMIC list are refused with a 400 VALIDATION_ERROR [U: HubSpot documents that only MANUAL
and SNAPSHOT lists accept them, not the exact body]. At most 100,000 record ids per membership call
[D: HubSpot's lists guide; the error wording is ours, U]. A missing list answers 404 OBJECT_NOT_FOUND [U].

Search results carry ``additionalProperties`` with HubSpot's defaults even when the request asks for none
(``lists.DEFAULT_PROPERTIES`` [D]); list GETs (by id, ids or name) carry the same map beside ``size`` [U: the
published PublicObjectList schema does not show it, and hubspot-api-client 12 drops it on GETs].
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from campaign_bridge.sandbox.http import Request, Response, Router
from campaign_bridge.sandbox.hubspot.errors import HubSpotError, envelope, not_found, validation_error
from campaign_bridge.sandbox.hubspot.lists import (
    CONTACT_OBJECT_TYPE,
    PROCESSING_TYPES,
    HubList,
    additional_properties,
)
from campaign_bridge.sandbox.hubspot.state import HubSpotState
from campaign_bridge.sandbox.hubspot.values import iso_ms

BASE = "/crm/v3/lists"
MAX_RECORD_IDS = 100_000
MEMBERS_DEFAULT, MEMBERS_MAX = 100, 250
SEARCH_DEFAULT, SEARCH_MAX = 20, 500
_LIST = r"(?P<list_id>[^/]+)"


def register(router: Router, state: HubSpotState) -> None:
    lists = state.lists

    def find(request: Request) -> HubList:
        list_id = request.params["list_id"]
        hub_list = lists.get(list_id, state.now_ms())
        if hub_list is None:
            raise not_found(f"List does not exist with ID {list_id}.", listId=[list_id])
        return hub_list

    def include_filters(request: Request) -> bool:
        return request.arg("includeFilters", "false") == "true"

    def fetched(hub_list: HubList, request: Request) -> dict[str, Any]:
        """A list as the GET routes answer it: the PublicObjectList with its default additionalProperties."""
        return {
            **hub_list.render(include_filters=include_filters(request)),
            "additionalProperties": additional_properties(hub_list),
        }

    def create(request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not body.get("name"):
            raise validation_error("A list needs a name.")
        name, kind = str(body["name"]), body.get("processingType")
        if kind not in PROCESSING_TYPES:
            raise validation_error(f"processingType must be one of {list(PROCESSING_TYPES)}.")
        if body.get("objectTypeId", CONTACT_OBJECT_TYPE) != CONTACT_OBJECT_TYPE:
            raise validation_error(
                f"The objectTypeId {body.get('objectTypeId')} provided for the list is not valid for this portal.",
                sub_category="ListError.INVALID_OBJECT_TYPE_FOR_LIST",
            )
        if kind == "DYNAMIC" and not body.get("filterBranch"):
            raise validation_error("A DYNAMIC list needs a filterBranch.")
        if lists.by_name(name, state.now_ms()) is not None:
            raise validation_error(f"A list named '{name}' already exists.", sub_category="ListError.LIST_NAME_TAKEN")
        created = state.get_list(state.add_list(name, str(kind), filter_branch=body.get("filterBranch")))
        return Response(200, {"list": created.render(include_filters=True)})

    def get_many(request: Request) -> Response:
        wanted = request.query.get("listIds", [])
        found = [lists.get(i, state.now_ms()) for i in wanted]
        return Response(200, {"lists": [fetched(item, request) for item in found if item is not None]})

    def get_one(request: Request) -> Response:
        return Response(200, {"list": fetched(find(request), request)})

    def get_by_name(request: Request) -> Response:
        name = unquote(request.params["name"])
        hub_list = lists.by_name(name, state.now_ms())
        if hub_list is None or request.params["object_type"] != CONTACT_OBJECT_TYPE:
            raise not_found(f"List does not exist with name {name}.", listName=[name])
        return Response(200, {"list": fetched(hub_list, request)})

    def rename(request: Request) -> Response:
        hub_list = find(request)
        new_name = request.arg("listName")
        if not new_name:
            raise validation_error("listName is required.")
        hub_list.name, hub_list.updated_ms = new_name, state.now_ms()
        return Response(200, {"updatedList": hub_list.render(include_filters=include_filters(request))})

    def delete(request: Request) -> Response:
        lists.delete(find(request), state.now_ms())
        return Response(204)

    def search(request: Request) -> Response:
        body = request.json() or {}
        offset, count = int(body.get("offset") or 0), int(body.get("count") or SEARCH_DEFAULT)
        if not 1 <= count <= SEARCH_MAX:
            raise validation_error(f"count must be between 1 and {SEARCH_MAX}.")
        query = str(body.get("query") or "").casefold()
        kinds = set(body.get("processingTypes") or PROCESSING_TYPES)
        ids = {str(i) for i in body.get("listIds") or []}
        matches = [
            item
            for item in lists.live()
            if query in item.name.casefold() and item.processing_type in kinds and (not ids or str(item.id) in ids)
        ]
        asked = body.get("additionalProperties")
        wanted = [name for name in asked if isinstance(name, str)] if isinstance(asked, list) else []
        page = []
        for item in matches[offset : offset + count]:
            lists.refresh(item, state.now_ms())
            row = item.render(with_size=False)
            row["additionalProperties"] = additional_properties(item, wanted)
            page.append(row)
        more = offset + count < len(matches)
        return Response(200, {"lists": page, "offset": offset + len(page), "hasMore": more, "total": len(matches)})

    def members(request: Request, *, join_order: bool) -> Response:
        hub_list = find(request)
        limit = int(request.arg("limit") or MEMBERS_DEFAULT)
        if not 1 <= limit <= MEMBERS_MAX:
            raise validation_error(f"limit must be between 1 and {MEMBERS_MAX}.", limit=[str(limit)])
        try:
            rows, after, before = lists.page(
                hub_list, after=request.arg("after"), before=request.arg("before"), limit=limit, join_order=join_order
            )
        except ValueError as exc:
            raise validation_error(str(exc)) from None
        body: dict[str, Any] = {
            "results": [{"recordId": str(r), "membershipTimestamp": iso_ms(ms)} for r, ms in rows],
            "total": len(hub_list.members),
        }
        paging: dict[str, Any] = {}
        if after is not None:
            link = f"http://{request.headers.get('host', '127.0.0.1')}{request.path}?limit={limit}&after={after}"
            paging["next"] = {"after": after, "link": link}
        if before is not None:
            paging["prev"] = {"before": before}
        if paging:
            body["paging"] = paging
        return Response(200, body)

    def change(request: Request, add: list[Any], remove: list[Any]) -> Response:
        hub_list = find(request)
        if not hub_list.writable:
            raise validation_error(
                f"List {hub_list.id} has processingType DYNAMIC; memberships can only be changed on MANUAL "
                "or SNAPSHOT lists.",
                sub_category="ListError.INVALID_PROCESSING_TYPE",
                listId=[str(hub_list.id)],
            )
        if len(add) + len(remove) > MAX_RECORD_IDS:
            raise validation_error(
                f"Too many record ids ({len(add) + len(remove)}); at most {MAX_RECORD_IDS} per request."
            )
        return Response(200, lists.change(hub_list, map(str, add), map(str, remove), state.now_ms()))

    def add(request: Request) -> Response:
        return change(request, _id_array(request), [])

    def remove(request: Request) -> Response:
        return change(request, [], _id_array(request))

    def add_and_remove(request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: expected {recordIdsToAdd, recordIdsToRemove}")
        return change(request, list(body.get("recordIdsToAdd") or []), list(body.get("recordIdsToRemove") or []))

    def add_from(request: Request) -> Response:
        source = lists.get(request.params["source_id"], state.now_ms())
        if source is None:
            raise not_found(f"List does not exist with ID {request.params['source_id']}.")
        change(request, [str(r) for r in source.members], [])
        return Response(204)

    def clear(request: Request) -> Response:
        hub_list = find(request)
        change(request, [], [str(r) for r in hub_list.members])
        return Response(204)

    def record_lists(request: Request) -> Response:
        record = request.params["record_id"]
        rows = lists.record_memberships(int(record), state.now_ms()) if record.isdigit() else []
        return Response(200, {"results": rows, "total": len(rows)})

    router.add("POST", f"{BASE}/?", create)
    router.add("GET", f"{BASE}/?", get_many)
    router.add("POST", f"{BASE}/search", search)
    router.add("GET", f"{BASE}/object-type-id/(?P<object_type>[^/]+)/name/(?P<name>[^/]+)", get_by_name)
    router.add("GET", f"{BASE}/records/(?P<object_type>[^/]+)/(?P<record_id>[^/]+)/memberships", record_lists)
    router.add("GET", f"{BASE}/{_LIST}", get_one)
    router.add("DELETE", f"{BASE}/{_LIST}", delete)
    router.add("PUT", f"{BASE}/{_LIST}/update-list-name", rename)
    router.add("GET", f"{BASE}/{_LIST}/memberships", lambda r: members(r, join_order=False))
    router.add("GET", f"{BASE}/{_LIST}/memberships/join-order", lambda r: members(r, join_order=True))
    router.add("DELETE", f"{BASE}/{_LIST}/memberships", clear)
    router.add("PUT", f"{BASE}/{_LIST}/memberships/add", add)
    router.add("PUT", f"{BASE}/{_LIST}/memberships/remove", remove)
    router.add("PUT", f"{BASE}/{_LIST}/memberships/add-and-remove", add_and_remove)
    router.add("PUT", f"{BASE}/{_LIST}/memberships/add-from/(?P<source_id>[^/]+)", add_from)


def _id_array(request: Request) -> list[Any]:
    body = request.json()
    if not isinstance(body, list):
        raise HubSpotError(400, envelope("Invalid input JSON: expected an array of record ids", "VALIDATION_ERROR"))
    return body
