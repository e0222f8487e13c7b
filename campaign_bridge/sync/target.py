"""Where a rule writes: the target connector, its container, and the member status to set; and the one
check that a rule can write there, shared by every run and by ``validate``'s live checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from campaign_bridge.config.models import Rule
from campaign_bridge.connectors.base import Connector
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import Container
from campaign_bridge.mapping.semantics import target_refusal


@dataclass(frozen=True, slots=True)
class Target:
    """Where a rule writes: the target connector, its container, and the member status to set (if any)."""

    connector: Connector
    container: Container
    status: str | None


def connector_of(connectors: Mapping[str, Connector], name: str) -> Connector:
    """The connector of connection ``name``; ``FatalError`` when the file has no such connection."""
    try:
        return connectors[name]
    except KeyError:
        raise FatalError(f"connection {name!r} is not configured") from None


def resolve_target(rule: Rule, connectors: Mapping[str, Connector]) -> Target:
    """The rule's target container and member status, checked. Raises ``FatalError`` when the rule
    cannot write there: a container of a kind or state that refuses writes, a missing status."""
    conn = connector_of(connectors, rule.target.connection)
    container = conn.find_container(rule.target.key, rule.target.container_name)
    refusal = target_refusal(conn.system, container.kind)
    if not container.writable:
        refusal = refusal or f"{conn.system} says {container.name!r} cannot be written"
    if refusal:
        raise FatalError(f"rule {rule.name!r}: cannot write to {container.name!r}: {refusal}")
    status = rule.target.status
    if container.has_status:
        if status is None:
            raise FatalError(f"rule {rule.name!r}: {container.name!r} needs a member status ('status:')")
        found = container.status(status)
        if found is None:
            labels = ", ".join(s.label for s in container.statuses)
            raise FatalError(f"rule {rule.name!r}: {container.name!r} has no member status {status!r}; it has {labels}")
        status = found.label
    return Target(conn, container, status)
