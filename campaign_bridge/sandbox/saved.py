"""Save a sandbox's state as JSON and load it back, so a demo folder keeps its systems between runs.

What is kept is what a vendor keeps: the Salesforce org's records (ids, timestamps and deleted rows
included) and its connected app and user credentials; the HubSpot portal's contacts (archived ones
included), custom properties, lists with their members and join times, its private-app token and OAuth
app. What a restart loses anyway is not kept: sessions and access tokens (clients log in again), the
day's API usage, open query cursors and Bulk jobs, request logs and faults. A DYNAMIC list keeps its
``filterBranch``; one seeded with a Python predicate is saved with the members it had.

Loading goes through the stores' own insert paths, so indexes and campaign rollups are rebuilt rather
than copied. Raises ``ValueError`` for a file written by an incompatible version.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.sandbox.hubspot.state import Token
from campaign_bridge.sandbox.hubspot.values import CONTACT_PROPERTIES
from campaign_bridge.sandbox.salesforce.ids import POD
from campaign_bridge.sandbox.salesforce.schema import OBJECTS, object_def
from campaign_bridge.sandbox.salesforce.state import Credentials, SalesforceState

FORMAT = 1
#: Parents before children, so every reference exists when its record is loaded.
_LOAD_ORDER = (
    "User",
    "Account",
    "Campaign",
    "CampaignMemberStatus",
    "Lead",
    "Contact",
    "CampaignMember",
    "Opportunity",
    "OpportunityContactRole",
)
#: Campaign counters the store keeps from its members; loading the members counts them again.
_MEMBER_ROLLUPS = ("NumberOfLeads", "NumberOfContacts", "NumberOfResponses")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# ---- files -------------------------------------------------------------------------------------------


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a crash leaves the old file or the new one, never half),
    readable by its owner only: it holds the sandbox's credentials."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(data, indent=1, sort_keys=True, default=_json_value))
    os.replace(scratch, path)


def read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a sandbox state file of format {FORMAT}; delete it to start afresh")
    return data


def _json_value(value: Any) -> Any:
    if isinstance(value, date):  # datetimes are dates too
        return value.isoformat()
    raise TypeError(f"cannot save a {type(value).__name__} in a sandbox state file")


# ---- Salesforce --------------------------------------------------------------------------------------


def dump_salesforce(state: SalesforceState) -> dict[str, Any]:
    """The org's records and credentials as JSON-ready data."""
    with state.lock:
        records = {name: [dict(rec) for rec in table.values()] for name, table in state.tables.items() if table}
        return {
            "format": FORMAT,
            "org_id": state.org_id,
            "user_id": state.user_id,
            "daily_limit": state.daily_limit,
            "credentials": dataclasses.asdict(state.credentials),
            "records": records,
        }


def load_salesforce(state: SalesforceState, data: dict[str, Any]) -> None:
    """Replace the org's records and credentials with ``data`` (from ``dump_salesforce``)."""
    with state.lock:
        for name, table in state.tables.items():
            for rec in list(table.values()):
                state.discard(OBJECTS[name.lower()], rec)
        saved: dict[str, list[dict[str, Any]]] = data["records"]
        order = [*_LOAD_ORDER, *(name for name in saved if name not in _LOAD_ORDER)]
        highest: dict[str, int] = {}
        for name in order:
            obj = object_def(name)
            if obj is None:
                raise ValueError(f"the saved org holds {name} records, which this sandbox does not know")
            for raw in sorted(saved.get(name, ()), key=lambda r: str(r["Id"])):
                values = _typed(name, raw)
                if name == "Campaign":
                    values.update(dict.fromkeys(_MEMBER_ROLLUPS, 0))
                state.insert(obj, values, record_id=values["Id"])
                highest[obj.prefix] = max(highest.get(obj.prefix, 0), _counter(values["Id"]))
        for prefix, count in highest.items():
            state.ids.many(prefix, count)  # new ids continue after the loaded ones
        state.org_id, state.user_id = data["org_id"], data["user_id"]
        state.default_owner = state.user_id
        state.daily_limit = data.get("daily_limit")
        state.credentials = Credentials(**data["credentials"])


def _typed(obj_name: str, raw: dict[str, Any]) -> dict[str, Any]:
    obj = OBJECTS[obj_name.lower()]
    out: dict[str, Any] = {}
    for name, value in raw.items():
        field = obj.field(name)
        if isinstance(value, str) and field is not None:
            if field.type == "datetime":
                value = datetime.fromisoformat(value)
            elif field.type == "date":
                value = date.fromisoformat(value)
        out[name] = value
    return out


def _counter(record_id: str) -> int:
    """The creation counter an id was minted from (see ``ids.py``: prefix, pod, 10 base-62 digits)."""
    n = 0
    for char in record_id[3 + len(POD) : 15]:
        n = n * 62 + _BASE62.index(char)
    return n


# ---- HubSpot -----------------------------------------------------------------------------------------


def dump_hubspot(sandbox: HubSpotSandbox) -> dict[str, Any]:
    """The portal's contacts, lists, custom properties and app credentials as JSON-ready data."""
    state = sandbox.state
    with state.lock:
        contacts = [
            {
                "id": c.id,
                "properties": dict(c.properties),
                "created_ms": c.created_ms,
                "updated_ms": c.updated_ms,
                "archived_ms": c.archived_ms,
            }
            for c in sorted(state.contacts.all(), key=lambda c: c.id)
        ]
        lists = [
            {
                "id": hub.id,
                "name": hub.name,
                "processing_type": hub.processing_type,
                "filter_branch": hub.filter_branch,
                "created_ms": hub.created_ms,
                "updated_ms": hub.updated_ms,
                "version": hub.version,
                "last_added_ms": hub.last_added_ms,
                "last_removed_ms": hub.last_removed_ms,
                "members": [[record, joined] for record, joined in hub.members.items()],
            }
            for hub in sorted(state.lists.live(), key=lambda h: h.id)
        ]
        custom = {k: v for k, v in state.contacts.schema.items() if k not in CONTACT_PROPERTIES}
        return {
            "format": FORMAT,
            "token": sandbox.token,
            "oauth": dict(sandbox.oauth),
            "custom_properties": custom,
            "contacts": contacts,
            "lists": lists,
        }


def load_hubspot(sandbox: HubSpotSandbox, data: dict[str, Any]) -> None:
    """Load ``data`` (from ``dump_hubspot``) into a new, empty portal; its token and OAuth app become the saved ones."""
    state = sandbox.state
    with state.lock:
        if len(state.contacts) or list(state.lists.live()):
            raise ValueError("load a saved HubSpot portal into an empty sandbox only")
        for name, kind in data["custom_properties"].items():
            state.define_property(name, kind)
        for row in data["contacts"]:
            contact = state.contacts.create(dict(row["properties"]), row["created_ms"])
            if contact.id != row["id"]:
                raise ValueError(f"saved contact ids are not consecutive (expected {contact.id}, got {row['id']})")
            contact.updated_ms = row["updated_ms"]
            if row["archived_ms"] is not None:
                state.contacts.archive(contact, row["archived_ms"])
        for row in data["lists"]:
            hub = state.lists.create(row["name"], row["processing_type"], row["created_ms"])
            while hub.id < row["id"]:  # a deleted list held this id: keep the numbering
                state.lists.delete(hub, row["created_ms"])
                hub = state.lists.create(row["name"], row["processing_type"], row["created_ms"])
            hub.filter_branch = row["filter_branch"]
            hub.updated_ms, hub.version = row["updated_ms"], row["version"]
            hub.last_added_ms, hub.last_removed_ms = row["last_added_ms"], row["last_removed_ms"]
            hub.members = {int(record): int(joined) for record, joined in row["members"]}
            hub.changed()
        oauth = data["oauth"]
        state.tokens = {data["token"]: Token("private_app", None)}
        state.oauth_client = {"client_id": oauth["client_id"], "client_secret": oauth["client_secret"]}
        state.refresh_tokens = {oauth["refresh_token"]}
        sandbox.token, sandbox.oauth = data["token"], dict(oauth)
