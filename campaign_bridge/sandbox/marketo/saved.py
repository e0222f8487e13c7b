"""The instance's saved state (``SandboxSpec.dump``/``load``): leads, static lists with their members,
smart lists with their rules, channels, programs with their members' statuses, smart campaigns, activities
and the API user's credentials. Tokens, the day's usage and export jobs are not kept (a restart loses them
on the real system too)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..saved import FORMAT
from .sandbox import MarketoSandbox
from .state import Activity, Lead, Membership, Program, SmartCampaign, SmartList, StaticList


def dump_marketo(sandbox: MarketoSandbox) -> dict[str, Any]:
    state = sandbox.state
    with state.lock:
        return {
            "format": FORMAT,
            "client": dict(state.client),
            "next": dict(state._next),
            "channels": {name: [list(s) for s in statuses] for name, statuses in state.channels.items()},
            "leads": [asdict(lead) for lead in state.leads.values()],
            "lists": [{**asdict(s), "members": [[i, t] for i, t in s.members.items()]} for s in state.lists.values()],
            "smart_lists": [asdict(s) for s in state.smart_lists.values()],
            "programs": [
                {**asdict(p), "members": [[i, asdict(m)] for i, m in p.members.items()]}
                for p in state.programs.values()
            ],
            "smart_campaigns": [asdict(c) for c in state.smart_campaigns.values()],
            "activities": [asdict(a) for a in state.activities],
        }


def load_marketo(sandbox: MarketoSandbox, data: dict[str, Any]) -> None:
    """Load ``data`` (from ``dump_marketo``) into a new, empty instance; ``ValueError`` for other data."""
    state = sandbox.state
    with state.lock:
        if state.leads or state.lists or state.programs:
            raise ValueError("load a saved Marketo instance into an empty sandbox only")
        try:
            state.client = {"client_id": data["client"]["client_id"], "client_secret": data["client"]["client_secret"]}
            state._next = {k: int(v) for k, v in data["next"].items()}
            state.channels = {n: tuple((str(a), bool(b)) for a, b in s) for n, s in data["channels"].items()}
            for row in data["leads"]:
                lead = Lead(**row)
                state.leads[lead.id] = lead
                if lead.fields.get("email"):
                    state.by_email.setdefault(str(lead.fields["email"]).lower(), []).append(lead.id)
            for row in data["lists"]:
                joined = {int(i): float(t) for i, t in row.pop("members")}
                state.lists[row["id"]] = StaticList(**row, members=joined)
            for row in data["smart_lists"]:
                state.smart_lists[row["id"]] = SmartList(**row)
            for row in data["programs"]:
                held = {int(i): Membership(**m) for i, m in row.pop("members")}
                state.programs[row["id"]] = Program(**row, members=held)
            for row in data["smart_campaigns"]:
                state.smart_campaigns[row["id"]] = SmartCampaign(**row)
            state.activities = [Activity(**row) for row in data["activities"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a saved Marketo instance: {exc}") from exc
