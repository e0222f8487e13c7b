"""The org's saved state (``SandboxSpec.dump``/``load``): its records (ids, timestamps and deleted rows
included) and its connected app and user credentials. Loading goes through the store's own insert path,
so indexes and campaign rollups are rebuilt rather than copied."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from ..saved import FORMAT
from .ids import POD
from .schema import OBJECTS, object_def
from .state import Credentials, SalesforceState

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


def dump_salesforce(state: SalesforceState) -> dict[str, Any]:
    """The org's records and credentials as JSON-ready data."""
    with state.lock:
        records = {name: [dict(rec) for rec in table.values()] for name, table in state.tables.items() if table}
        return {
            "format": FORMAT,
            "org_id": state.org_id,
            "user_id": state.user_id,
            "person_id": state.person_id,
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
        state.person_id = data.get("person_id", state.person_id)
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
