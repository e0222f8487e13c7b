"""Programs, channels, smart lists and smart campaigns: the asset API and the program-member endpoints.

Checked against swagger-asset / swagger-mapi (AdobeDocs/marketo-apis) and the docs pages ``programs.md``,
``program-members.md``, ``channels.md``, ``smart-lists.md``:

* ``GET /rest/asset/v1/programs.json?maxReturn(≤200, default 20)&offset``: ``{id, name, description, type,
  channel, status, workspace, folder, createdAt: "2015-11-18T15:25:35Z+0000", updatedAt, url}``; no more
  programs is ``success: true`` with ``warnings: ["No assets found for the given search criteria."]`` and no
  ``result`` (marketorestpython's ``has_empty_warning``).
* ``GET /rest/asset/v1/program/byName.json?name`` and ``/rest/asset/v1/program/{id}.json``: one program, or
  the no-assets warning; ``GET /rest/asset/v1/channel/byName.json?name``: one channel.
* ``GET /rest/asset/v1/channels.json``: ``{name, applicableProgramType, progressionStatuses: [{name, step,
  success, hidden, description}]}``.
* ``GET /rest/v1/programs/{id}/members.json?filterType(leadId|statusName|…)&filterValues&fields&batchSize
  (≤300)&nextPageToken``: ``filterType`` is required; default fields acquiredBy, leadId, membershipDate,
  programId, reachedSuccess; ``moreResult``.
* ``POST /rest/v1/programs/{id}/members/status.json`` ``{"statusName", "input": [{"leadId"}]}`` (≤300):
  ``created``/``updated`` with ``seq`` and ``leadId``, or ``skipped`` with ``seq`` and ``reasons`` only (no
  ``leadId``: correlate by ``seq``), 1037 "Lead skipped because it is already in or past this status"
  (docs' example) or 1004 [U]; a status the channel lacks is 1025 "Program status not found" for the call.
* ``POST /rest/v1/programs/{id}/members/delete.json`` ``{"input": [{"leadId"}]}``: ``deleted`` with ``seq``
  and ``leadId``, or ``skipped`` with ``seq`` and 1037 "Lead not in program" (docs' example).
* ``GET /rest/v1/leads/programs/{id}.json?fields&batchSize&nextPageToken`` ("Get Leads by Program"): leads,
  each with ``membership: {progressionStatus, acquiredBy, reachedSuccess, membershipDate, …}``.
* ``POST /rest/v1/leads/programs/{id}/status.json`` ``{"status", "input": [{"id"}]}``: the older status
  call marketorestpython's ``change_lead_program_status`` makes.
* ``GET /rest/asset/v1/smartLists.json`` and ``GET /rest/asset/v1/smartCampaigns.json`` (offset/maxReturn).
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

from campaign_bridge.sandbox.http import Request, Response, Router
from campaign_bridge.sandbox.marketo.routes_leads import field_list, lead_view, page, paged
from campaign_bridge.sandbox.marketo.state import MarketoState, Membership, Program
from campaign_bridge.sandbox.marketo.wire import (
    MAX_BATCH,
    MarketoError,
    asset_page,
    int_ids,
    json_body,
    ok,
    params,
    skipped,
)

#: Program member fields returned when the caller names none.
MEMBER_FIELDS = ("acquiredBy", "leadId", "membershipDate", "programId", "reachedSuccess")
NO_ASSETS = "No assets found for the given search criteria."


def asset_stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ+0000")


def _browse(items: list[Any], values: dict[str, str], view: Any) -> Response:
    offset, size = asset_page(values)
    chunk = items[offset : offset + size]
    if not chunk:
        return ok(None, warnings=[NO_ASSETS])
    return ok([view(item) for item in chunk], warnings=[])


def register(router: Router, state: MarketoState) -> None:
    @router.route("GET", r"/rest/asset/v1/programs\.json")
    def programs(request: Request) -> Response:
        rows = sorted(state.programs.values(), key=lambda p: p.id)
        return _browse(rows, params(request), _program_view)

    @router.route("GET", r"/rest/asset/v1/program/byName\.json")
    def program_by_name(request: Request) -> Response:
        name = params(request).get("name") or ""
        found = [p for p in state.programs.values() if p.name == name]
        return ok([_program_view(p) for p in found], warnings=[]) if found else ok(None, warnings=[NO_ASSETS])

    @router.route("GET", r"/rest/asset/v1/program/(?P<program>\d+)\.json")
    def program_by_id(request: Request) -> Response:
        program = state.programs.get(int(request.params["program"]))
        return ok([_program_view(program)], warnings=[]) if program else ok(None, warnings=[NO_ASSETS])

    @router.route("GET", r"/rest/asset/v1/channel/byName\.json")
    def channel_by_name(request: Request) -> Response:
        name = params(request).get("name") or ""
        if name not in state.channels:
            return ok(None, warnings=[NO_ASSETS])
        return ok([_channel_view((name, state.channels[name]))], warnings=[])

    @router.route("GET", r"/rest/asset/v1/channels\.json")
    def channels(request: Request) -> Response:
        rows = sorted(state.channels.items())
        return _browse(rows, params(request), _channel_view)

    @router.route("GET", r"/rest/asset/v1/smartLists\.json")
    def smart_lists(request: Request) -> Response:
        rows = sorted(state.smart_lists.values(), key=lambda s: s.id)
        return _browse(
            rows,
            params(request),
            lambda s: {
                "id": s.id,
                "name": s.name,
                "description": "",
                "createdAt": asset_stamp(s.created),
                "updatedAt": asset_stamp(s.updated),
                "url": f"https://app.marketo.com/#SL{s.id}A1",
                "folder": {"id": 1, "type": "Folder"},
                "workspace": "Default",
            },
        )

    @router.route("GET", r"/rest/asset/v1/smartCampaigns\.json")
    def smart_campaigns(request: Request) -> Response:
        rows = sorted(state.smart_campaigns.values(), key=lambda c: c.id)
        return _browse(
            rows,
            params(request),
            lambda c: {
                "id": c.id,
                "name": c.name,
                "type": "trigger",
                "isActive": True,
                "createdAt": asset_stamp(c.created),
                "updatedAt": asset_stamp(c.updated),
                "workspace": "Default",
            },
        )

    def members(request: Request) -> Response:
        program = _program(state, request.params["program"])
        values = params(request)
        kind, raw = values.get("filterType"), values.get("filterValues")
        if not kind or raw is None:
            raise MarketoError("1003", "filterType and filterValues are required")
        items = sorted(program.members.items())
        if kind == "leadId":
            wanted = set(int_ids(raw, "filterValues"))
            items = [(i, m) for i, m in items if i in wanted]
        elif kind == "statusName":
            names = {v.strip().casefold() for v in raw.split(",")}
            items = [(i, m) for i, m in items if m.status.casefold() in names]
        else:
            raise MarketoError("1003", f"Invalid filterType: {kind}")
        chunk, token = page(items, values, f"members{program.id}:{kind}:{raw}")
        fields = field_list(values, MEMBER_FIELDS)
        result = [_member_view(program, lead_id, m, fields) for lead_id, m in chunk]
        return ok(result, moreResult=token is not None, **({"nextPageToken": token} if token else {}))

    router.add("GET", r"/rest/v1/programs/(?P<program>[^/]+)/members\.json", members)
    router.add("POST", r"/rest/v1/programs/(?P<program>[^/]+)/members\.json", members)

    @router.route("POST", r"/rest/v1/programs/(?P<program>[^/]+)/members/status\.json")
    def set_status(request: Request) -> Response:
        program = _program(state, request.params["program"])
        data = json_body(request)
        return ok(_set_status(state, program, data.get("statusName"), _lead_ids(data, "leadId")))

    @router.route("POST", r"/rest/v1/leads/programs/(?P<program>[^/]+)/status\.json")
    def set_status_old(request: Request) -> Response:
        program = _program(state, request.params["program"])
        data = json_body(request)
        result = _set_status(state, program, data.get("status"), _lead_ids(data, "id"))
        return ok([{("id" if k == "leadId" else k): v for k, v in r.items()} for r in result])

    @router.route("POST", r"/rest/v1/programs/(?P<program>[^/]+)/members/delete\.json")
    def delete_members(request: Request) -> Response:
        program = _program(state, request.params["program"])
        result: list[dict[str, Any]] = []
        for seq, lead_id in enumerate(_lead_ids(json_body(request), "leadId")):
            if program.members.pop(lead_id, None) is None:
                result.append(skipped("1037", "Lead not in program", seq=seq))
            else:
                result.append({"seq": seq, "leadId": lead_id, "status": "deleted"})
        return ok(result)

    def leads_by_program(request: Request) -> Response:
        program = _program(state, request.params["program"])
        values = params(request)
        items = [(state.leads[i], m) for i, m in sorted(program.members.items()) if i in state.leads]
        chunk, token = page(items, values, f"leadsprog{program.id}")
        fields = field_list(values)
        result = [
            {
                **lead_view(lead, fields),
                "membership": {
                    "progressionStatus": m.status,
                    "acquiredBy": False,
                    "reachedSuccess": m.reached_success,
                    "membershipDate": asset_stamp(m.joined).replace("+0000", ""),
                },
            }
            for lead, m in chunk
        ]
        return paged(result, token)

    router.add("GET", r"/rest/v1/leads/programs/(?P<program>\d+)\.json", leads_by_program)
    router.add("POST", r"/rest/v1/leads/programs/(?P<program>\d+)\.json", leads_by_program)


def _program(state: MarketoState, raw: str) -> Program:
    if not raw.isdigit() or int(raw) not in state.programs:
        raise MarketoError("1013", f"Program '{raw}' not found")
    return state.programs[int(raw)]


def _lead_ids(data: dict[str, Any], key: str) -> list[int]:
    items = data.get("input")
    if not isinstance(items, list) or not items:
        raise MarketoError("1003", "input is required")
    if len(items) > MAX_BATCH:
        raise MarketoError("1003", f"Input size {len(items)} exceeds the maximum of {MAX_BATCH}")
    try:
        return [int(item[key]) for item in items]
    except (KeyError, TypeError, ValueError):
        raise MarketoError("1003", f"each input item needs a numeric {key}") from None


def _set_status(state: MarketoState, program: Program, status: Any, lead_ids: list[int]) -> list[dict[str, Any]]:
    if not isinstance(status, str) or status.casefold() not in state.steps(program):
        raise MarketoError("1025", f"Program status '{status}' not found")
    result: list[dict[str, Any]] = []
    for seq, lead_id in enumerate(lead_ids):
        if lead_id not in state.leads:
            result.append(skipped("1004", "Lead not found", seq=seq))
            continue
        answer = state.set_member_status(program.id, lead_id, status)
        if answer == "skipped":
            result.append(skipped("1037", "Lead skipped because it is already in or past this status", seq=seq))
        else:
            result.append({"seq": seq, "leadId": lead_id, "status": answer})
    program.updated = state.clock()
    return result


def _program_view(p: Program) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "description": "",
        "createdAt": asset_stamp(p.created),
        "updatedAt": asset_stamp(p.updated),
        "url": f"https://app.marketo.com/#PG{p.id}A1",
        "type": p.type,
        "channel": p.channel,
        "folder": {"type": "Folder", "value": 1, "folderName": "Marketing Activities"},
        "status": "",
        "workspace": "Default",
    }


def _channel_view(item: tuple[str, tuple[tuple[str, bool], ...]]) -> dict[str, Any]:
    name, statuses = item
    return {
        "id": zlib.crc32(name.encode()) % 10_000,
        "name": name,
        "applicableProgramType": "event" if name == "Webinar" else "program",
        "progressionStatuses": [
            {"name": label, "step": step, "success": success, "hidden": False, "description": ""}
            for step, (label, success) in enumerate(statuses)
        ],
    }


def _member_view(program: Program, lead_id: int, m: Membership, fields: list[str]) -> dict[str, Any]:
    values = {
        "acquiredBy": False,
        "leadId": lead_id,
        "membershipDate": asset_stamp(m.joined).replace("+0000", ""),
        "programId": program.id,
        "reachedSuccess": m.reached_success,
        "statusName": m.status,
        "updatedAt": asset_stamp(m.updated).replace("+0000", ""),
    }
    return {"seq": 0, **{f: values.get(f) for f in fields}}
