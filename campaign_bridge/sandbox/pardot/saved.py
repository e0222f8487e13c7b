"""The business unit's saved state (``SandboxSpec.dump``/``load``): campaigns, prospects, static lists with
their memberships, visitor activities, and the org's login credentials. A dynamic list seeded with a Python
rule is saved with the members it had, and stays read-only (its rule cannot be written down)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from ..salesforce.state import Credentials
from ..saved import FORMAT
from .sandbox import PardotSandbox
from .state import Activity, Campaign, Membership, PardotList, Prospect


def _times(row: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        if row.get(name) is not None:
            row[name] = datetime.fromisoformat(row[name])
    return row


def dump_pardot(sandbox: PardotSandbox) -> dict[str, Any]:
    state = sandbox.state
    with state.lock:
        lists = []
        for pardot_list in state.lists.values():
            members = state.members(pardot_list.id)
            lists.append(
                {
                    "id": pardot_list.id,
                    "name": pardot_list.name,
                    "dynamic": pardot_list.is_dynamic,
                    "created_at": pardot_list.created_at,
                    "updated_at": pardot_list.updated_at,
                    "members": [asdict(m) for m in members],
                }
            )
        return {
            "format": FORMAT,
            "credentials": asdict(sandbox.org.credentials),
            "ampsea": state.ampsea,
            "default_campaign": state.default_campaign,
            "campaigns": [asdict(c) for c in state.campaigns.values()],
            "prospects": [asdict(p) for p in state.prospects.values()],
            "lists": lists,
            "activities": [asdict(a) for a in state.activities.values()],
        }


def load_pardot(sandbox: PardotSandbox, data: dict[str, Any]) -> None:
    """Load ``data`` (from ``dump_pardot``) into a new, empty sandbox. Raises ValueError for data it cannot take."""
    state = sandbox.state
    try:
        with state.lock:
            if state.prospects or state.lists:
                raise ValueError("load a saved Account Engagement business unit into an empty sandbox only")
            sandbox.org.credentials = Credentials(**data["credentials"])
            state.ampsea = bool(data["ampsea"])
            state.campaigns.clear()
            for row in data["campaigns"]:
                campaign = Campaign(**_times(row, "created_at", "updated_at"))
                state.campaigns[campaign.id] = campaign
            state.default_campaign = int(data["default_campaign"])
            for row in data["prospects"]:
                prospect = Prospect(**_times(row, "created_at", "updated_at", "last_activity_at"))
                state.prospects[prospect.id] = prospect
            for row in data["lists"]:
                pardot_list = PardotList(
                    row["id"],
                    row["name"],
                    bool(row["dynamic"]),
                    None,
                    row["name"],
                    datetime.fromisoformat(row["created_at"]),
                    datetime.fromisoformat(row["updated_at"]),
                )
                state.lists[pardot_list.id] = pardot_list
                for m in row["members"]:
                    member = Membership(**_times(m, "created_at", "updated_at"))
                    state.memberships[member.id] = member
                    state._by_pair[(member.list_id, member.prospect_id)] = member.id
            for row in data["activities"]:
                activity = Activity(**_times(row, "created_at"))
                state.activities[activity.id] = activity
            top = max([0, *state.campaigns, *state.prospects, *state.lists, *state.memberships, *state.activities])
            while state.next_id() <= top:
                pass
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a saved Account Engagement business unit: {exc}") from exc
