"""The portal's saved state (``SandboxSpec.dump``/``load``): its contacts (archived ones included), custom
properties, lists with their members and join times, its private-app token and OAuth app. A DYNAMIC list
keeps its ``filterBranch``; one seeded with a Python predicate is saved with the members it had."""

from __future__ import annotations

from typing import Any

from ..saved import FORMAT
from .sandbox import HubSpotSandbox
from .state import Token
from .values import CONTACT_PROPERTIES


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
