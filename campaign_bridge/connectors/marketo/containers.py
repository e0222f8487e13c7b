"""What a Marketo rule can name, as containers: static lists (writable), smart lists (read-only sources),
programs (writable, with their channel's statuses) and smart campaigns (flows, refused as targets).

Ids: a static list, a program and a smart campaign keep Marketo's number; a smart list's number lives in
another id space (the asset API's), so its container id is ``smartlist:<id>`` and can never be mistaken
for a static list's. A program's statuses are its channel's ``progressionStatuses`` in step order, less
"Not in Program" (step 0, which means not a member); ``responded`` is the step's ``success`` flag and the
first member step is the default.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from campaign_bridge.connectors.marketo.client import MarketoClient
from campaign_bridge.mapping.model import Container, ContainerKind, MemberStatus

SMART_PREFIX = "smartlist:"
#: Asset API pages (``maxReturn``) hold at most 200; lead database pages 300.
ASSET_PAGE = 200
LIST_PAGE = 300


def static_lists(client: MarketoClient, **filters: str) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"batchSize": LIST_PAGE, **filters}
    while True:
        body = client.call("GET", "/rest/v1/lists.json", params=params)
        yield from body.get("result") or []
        token = body.get("nextPageToken")
        if not token:
            return
        params["nextPageToken"] = token


def browse(client: MarketoClient, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every asset of an asset API browse (``offset``/``maxReturn``); an empty page ends it."""
    offset = 0
    while True:
        body = client.call("GET", path, params={**params, "maxReturn": ASSET_PAGE, "offset": offset})
        rows = body.get("result") or []
        yield from rows
        if len(rows) < ASSET_PAGE:
            return
        offset += ASSET_PAGE


def channel_statuses(client: MarketoClient, channel: str | None = None) -> dict[str, tuple[MemberStatus, ...]]:
    """Channel name → its member statuses (one channel by name, or all)."""
    rows = (
        client.call("GET", "/rest/asset/v1/channel/byName.json", params={"name": channel}).get("result") or []
        if channel is not None
        else list(browse(client, "/rest/asset/v1/channels.json"))
    )
    out: dict[str, tuple[MemberStatus, ...]] = {}
    for row in rows:
        steps = sorted(row.get("progressionStatuses") or [], key=lambda s: int(s.get("step", 0)))
        members = [s for s in steps if int(s.get("step", 0)) > 0]
        out[str(row["name"])] = tuple(
            MemberStatus(str(s["name"]), bool(s.get("success")), i == 0, int(s["step"])) for i, s in enumerate(members)
        )
    return out


def static_container(connection: str, row: dict[str, Any]) -> Container:
    return Container(connection, str(row["id"]), str(row["name"]), ContainerKind.STATIC_LIST)


def smart_container(connection: str, row: dict[str, Any]) -> Container:
    return Container(
        connection, f"{SMART_PREFIX}{row['id']}", str(row["name"]), ContainerKind.DYNAMIC_LIST, writable=False
    )


def program_container(connection: str, row: dict[str, Any], statuses: dict[str, tuple[MemberStatus, ...]]) -> Container:
    return Container(
        connection,
        str(row["id"]),
        str(row["name"]),
        ContainerKind.PROGRAM,
        has_status=True,
        statuses=statuses.get(str(row.get("channel")), ()),
    )


def campaign_container(connection: str, row: dict[str, Any]) -> Container:
    return Container(connection, str(row["id"]), str(row["name"]), ContainerKind.SMART_CAMPAIGN, writable=False)


def all_containers(client: MarketoClient, connection: str) -> list[Container]:
    statuses = channel_statuses(client)
    return [
        *(static_container(connection, r) for r in static_lists(client)),
        *(smart_container(connection, r) for r in browse(client, "/rest/asset/v1/smartLists.json")),
        *(program_container(connection, r, statuses) for r in browse(client, "/rest/asset/v1/programs.json")),
        *(campaign_container(connection, r) for r in browse(client, "/rest/asset/v1/smartCampaigns.json")),
    ]


def find(client: MarketoClient, connection: str, key: str, name: str) -> list[Container]:
    """The containers of ``key`` that ``name`` names (by id or by exact name), in the fewest calls: one
    lists call, or a program by name and its channel. Empty when the narrow search finds none."""
    if key == "list":
        if name.startswith(SMART_PREFIX):
            wanted = name[len(SMART_PREFIX) :]
            return [
                smart_container(connection, r)
                for r in browse(client, "/rest/asset/v1/smartLists.json")
                if str(r["id"]) == wanted
            ]
        filters = {"id": name} if name.isdigit() else {"name": name}
        found = [static_container(connection, r) for r in static_lists(client, **filters)]
        if found:
            return found
        smart = [
            smart_container(connection, r)
            for r in browse(client, "/rest/asset/v1/smartLists.json")
            if r.get("name") == name
        ]
        return smart
    if key == "program":
        path = f"/rest/asset/v1/program/{name}.json" if name.isdigit() else "/rest/asset/v1/program/byName.json"
        rows = client.call("GET", path, params=None if name.isdigit() else {"name": name}).get("result") or []
        if not rows:
            return []
        channel = str(rows[0].get("channel") or "")
        statuses = channel_statuses(client, channel) if channel else {}
        return [program_container(connection, r, statuses) for r in rows]
    return []
