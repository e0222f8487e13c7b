"""Where a rule writes, and the one check that a rule may write there.

``resolve_target`` is what a run does before it plans anything; ``target_problem`` is the same check on a
container already in hand, for ``validate`` (``sync/live.py``), which reports every rule's problem instead
of stopping at the first. Both say the same thing in the same words, so a file that validates is one a run
accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from campaign_bridge.config.models import Endpoint, Rule
from campaign_bridge.connectors.base import Connector, SupportsCampaignLists
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import Container
from campaign_bridge.mapping.semantics import target_refusal


@dataclass(frozen=True, slots=True)
class Target:
    """Where a rule writes: the target connector, its container, and the member status to set (if any):
    one for everyone (``status``), or one per source member status (``status_map``: the source's label
    case-folded → the target's label as the system spells it)."""

    connector: Connector
    container: Container
    status: str | None
    status_map: Mapping[str, str] = field(default_factory=dict)

    def status_for(self, source_status: str | None) -> str | None:
        """The status to set for a source member of ``source_status``."""
        if not self.status_map:
            return self.status
        return self.status_map.get((source_status or "").casefold())


def connector_of(connectors: Mapping[str, Connector], name: str) -> Connector:
    """The connector of connection ``name``; ``FatalError`` when the file has no such connection."""
    try:
        return connectors[name]
    except KeyError:
        raise FatalError(f"connection {name!r} is not configured") from None


def target_problem(rule: Rule, system: str, container: Container) -> str | None:
    """Why ``rule`` cannot write to ``container`` of ``system``, or ``None`` when it can.

    Refused: a container of a kind or state that refuses writes (a dynamic list, an asset campaign, a
    list the system marks read-only); a container with member statuses when the rule names none, or names
    one it does not have. The text does not name the rule: callers put it in front.
    """
    refusal = target_refusal(system, container.kind)
    if not container.writable:
        refusal = refusal or container.read_only_reason or f"{system} says {container.name!r} cannot be written"
    if refusal:
        return f"cannot write to {container.name!r}: {refusal}"
    kind = container.member_kind
    if kind is not None and kind.lower() != rule.match.prefer:
        holds = f"{container.name!r} holds only {kind} records"
        if kind.lower() not in ("contact", "lead"):
            return f"{holds}; campaign-bridge writes people (contacts or leads): target a contact or lead list"
        return f"{holds}; the rule matches {rule.match.prefer}s first: set match: {{prefer: {kind.lower()}}}"
    creates = rule.match.create_missing
    if kind is not None and creates in ("contact", "lead") and creates != kind.lower():
        return f"{container.name!r} holds only {kind} records; the rule would create {creates}s (create_missing)"
    status = rule.target.status
    if container.has_status:
        labels = ", ".join(s.label for s in container.statuses)
        if rule.target.status_map is not None:
            missing = [s for s in rule.target.status_map.values() if container.status(s) is None]
            if missing:
                names = ", ".join(repr(s) for s in dict.fromkeys(missing))
                return f"status_map: {container.name!r} has no member status {names}; it has {labels}"
            return None
        if status is None:
            return f"{container.name!r} needs a member status ('status:')"
        if container.status(status) is None:
            return f"{container.name!r} has no member status {status!r}; it has {labels}"
    return None


def find_target(conn: Connector, ep: Endpoint, prefer: str) -> Container:
    """The container ``ep`` names: ``find_container``, or for a campaign with the list to write in it, the
    connector's ``find_campaign_list`` (a list to create is of the ``prefer``red kind). Raises ``FatalError``."""
    if ep.in_campaign is None:
        return conn.find_container(ep.key, ep.container_name)
    if not isinstance(conn, SupportsCampaignLists):
        raise FatalError(f"{conn.name}: {conn.system} has no lists linked to campaigns; name a campaign or a list")
    return conn.find_campaign_list(ep.in_campaign, ep.container_name, create_as=prefer if ep.create_list else None)


def resolve_target(rule: Rule, connectors: Mapping[str, Connector]) -> Target:
    """The rule's target connector, container and member status (as the system spells it), checked.

    Raises ``FatalError`` when the rule's connection is not configured, when the container cannot be
    found (the connector's own error), and with ``target_problem``'s text when the rule cannot write there.
    """
    conn = connector_of(connectors, rule.target.connection)
    container = find_target(conn, rule.target, rule.match.prefer)
    problem = target_problem(rule, conn.system, container)
    if problem:
        raise FatalError(f"rule {rule.name!r}: {problem}")
    status = rule.target.status
    if container.has_status and status is not None:
        found = container.status(status)
        # target_problem refused a status the container does not have.
        assert found is not None
        status = found.label
    spelled: dict[str, str] = {}
    for source_status, target_status in (rule.target.status_map or {}).items():
        found = container.status(target_status)
        assert found is not None  # target_problem refused a status the container does not have
        spelled[source_status.casefold()] = found.label
    return Target(conn, container, status, spelled)
