"""``campaign-bridge discover``: what each connection can see, and what a rule may do with it.

For each connection: what "campaign" means in its system (``mapping/semantics.py``), every container it
lists (CRM campaigns with their member statuses, static and computed lists, programs with their statuses,
tags) with its member count, whether it can be a rule's source, its target, or neither, and why; the
segment fields the system can filter on, with their types, and the canonical ones it lacks; and the API
calls all that cost.

Counting is frugal: a listing that carries sizes (a Salesforce campaign's roll-ups, a HubSpot list's
``hs_list_size``) costs nothing more; a connector that ``SupportsDiscovery`` counts the others with at most
one call each; any other connector's containers without a size are shown as not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.discovery import SupportsDiscovery
from campaign_bridge.errors import CampaignBridgeError
from campaign_bridge.mapping.model import Container, ContainerKind
from campaign_bridge.mapping.segment import CANONICAL_FIELDS
from campaign_bridge.mapping.semantics import SEMANTICS, KindSemantics, target_refusal


@dataclass(frozen=True, slots=True)
class StatusView:
    label: str
    responded: bool
    default: bool


@dataclass(frozen=True, slots=True)
class ContainerView:
    """One container as a rule may name it: ``key: name`` (``campaign: "Webinar 2026-Q4"``)."""

    key: str
    kind: str
    id: str
    name: str
    members: int | None
    statuses: list[StatusView]
    source: bool
    source_why: str
    target: bool
    target_why: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ConnectionView:
    """What one connection holds, or why it could not be asked (``error``)."""

    name: str
    system: str
    role: str
    campaign_means: str
    containers: list[ContainerView] = field(default_factory=list)
    segment_fields: dict[str, str] = field(default_factory=dict)
    lacks_fields: list[str] = field(default_factory=list)
    calls: int = 0
    calls_by_endpoint: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def discover(connectors: Mapping[str, Connector], only: str | None = None) -> list[ConnectionView]:
    """Ask each connection (``only`` that one) what it holds; a connection whose API fails is reported with
    its ``error`` rather than stopping the others. Raises ``KeyError`` for an unknown ``only``."""
    names = [only] if only is not None else list(connectors)
    return [discover_one(connectors[name]) for name in names]


def discover_one(conn: Connector) -> ConnectionView:
    """One connection's view (see the module docstring for what it costs)."""
    sem = SEMANTICS[conn.system]
    fields = {name: str(f.type) for name, f in type(conn).segment_fields.items()}
    view = ConnectionView(
        conn.name,
        conn.system,
        str(sem.role),
        sem.campaign_means,
        segment_fields=fields,
        lacks_fields=[f for f in CANONICAL_FIELDS if f not in fields],
    )
    try:
        containers = list(conn.list_containers())
        counts = conn.count_members(containers) if isinstance(conn, SupportsDiscovery) else {}
    except CampaignBridgeError as exc:
        view.error = str(exc)
        containers, counts = [], {}
    view.containers = [container_view(conn.system, c, counts.get(c.id, c.size)) for c in containers]
    usage = conn.usage()
    view.calls, view.calls_by_endpoint = usage.calls, dict(usage.by_endpoint)
    return view


def container_view(system: str, c: Container, members: int | None) -> ContainerView:
    """``c`` with the rule-file key that names it and what a rule may do with it, and why."""
    key, kind = _key_of(system, c.kind)
    source, source_why = _as_source(kind, c)
    target, target_why = _as_target(system, c)
    return ContainerView(
        key=key,
        kind=str(c.kind),
        id=c.id,
        name=c.name,
        members=members,
        statuses=[StatusView(s.label, s.responded, s.default) for s in c.statuses],
        source=source,
        source_why=source_why,
        target=target,
        target_why=target_why,
        details=_details(c),
    )


def _key_of(system: str, kind: ContainerKind) -> tuple[str, KindSemantics | None]:
    for key, kinds in SEMANTICS[system].keys.items():
        for k in kinds:
            if k.kind is kind:
                return key, k
    return str(kind), None


def _as_source(kind: KindSemantics | None, c: Container) -> tuple[bool, str]:
    if kind is not None and not kind.holds_membership:
        return False, kind.why_not or "it has no members"
    if c.statuses:
        labels = ", ".join(s.label for s in c.statuses)
        return True, f"member_status may pick some of: {labels}"
    return True, "its members"


def _as_target(system: str, c: Container) -> tuple[bool, str]:
    refusal = target_refusal(system, c.kind)
    if refusal is not None:
        return False, refusal
    if not c.writable:
        return False, "the system reports it read-only"
    if c.statuses:
        default = c.default_status
        return True, f"with a status: one of its own (default {default.label if default else 'none'})"
    if c.exclusive:
        return True, "exclusive: a person holds one of this family (the rule's exclusive policy decides)"
    return True, "add members; mirror also removes those the rule added"


def _details(c: Container) -> dict[str, Any]:
    d = c.details
    if d is None:
        return {}
    shown = {
        "type": d.type,
        "status": d.status,
        "active": d.active,
        "start_date": d.start_date.isoformat() if d.start_date else None,
        "end_date": d.end_date.isoformat() if d.end_date else None,
    }
    return {k: v for k, v in shown.items() if v is not None}
