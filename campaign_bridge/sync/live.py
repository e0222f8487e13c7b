"""``validate``'s live checks: what only the systems can say about a file's rules.

* every rule's containers exist (found by id or by name, as a run finds them);
* each target accepts what the rule writes: ``sync.target.target_problem``, the check a run makes before
  it starts, so ``validate`` refuses a file with the words a run would use;
* each source campaign has the member statuses ``member_status`` names (``source_problem``): a status it
  lacks would select nobody, and a mirror rule would then remove every member it added;
* no rules feed each other in a loop, with containers told apart by their ids rather than by how the file
  spells them (``to: {list: "12"}`` and ``from: {list: Nurture}`` are one list when 12 is Nurture's id),
  and no rule reads and writes one container. A campaign an MA system mirrors onto a Salesforce campaign
  (an Account Engagement connected campaign) counts as that Salesforce campaign.

Unlike a run, it goes on after a problem and reports them all. Each connection's containers are listed
once (``_Containers``), so a file of hundreds of rules costs one listing per connection, not one lookup
per rule.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from campaign_bridge.config.cycles import cycle_message, offline_identity, rule_cycles
from campaign_bridge.config.models import ClientConfig, Endpoint
from campaign_bridge.connectors.base import Connector
from campaign_bridge.errors import CampaignBridgeError, ConfigError, Problem
from campaign_bridge.mapping.model import Container, ContainerKind
from campaign_bridge.sync.client import open_client
from campaign_bridge.sync.source import source_problems
from campaign_bridge.sync.target import find_target, target_problem


class _Containers:
    """Each connection's containers, listed once, and each endpoint resolved against that listing.

    A reference the listing does not settle (no container, or several, by that id or name; a Salesforce
    id in its 15-character form) goes to the connector's own ``find_container``, whose error says why.
    A connection whose listing failed fails each of its lookups with that error, without asking again.
    """

    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self._connectors = connectors
        self._listed: dict[str, Sequence[Container] | CampaignBridgeError] = {}
        self._found: dict[tuple[str, str, str], Container | CampaignBridgeError] = {}

    def find(self, ep: Endpoint, prefer: str) -> Container:
        """The endpoint's container; raises the connector's ``CampaignBridgeError`` when it has none.
        ``prefer``: the rule's preferred person kind, the kind of a list the rule would create."""
        key = (ep.connection, ep.key, ep.container_name)
        if key not in self._found:
            try:
                self._found[key] = self._lookup(ep, prefer)
            except CampaignBridgeError as exc:
                self._found[key] = exc
        found = self._found[key]
        if isinstance(found, CampaignBridgeError):
            raise found
        return found

    def connector(self, connection: str) -> Connector:
        return self._connectors[connection]

    def found(self, ep: Endpoint) -> Container | None:
        """The endpoint's container if ``find`` found it already, else None."""
        found = self._found.get((ep.connection, ep.key, ep.container_name))
        return found if isinstance(found, Container) else None

    def _lookup(self, ep: Endpoint, prefer: str) -> Container:
        conn = self._connectors[ep.connection]
        if ep.in_campaign is not None:  # a list within a campaign: only the connector knows the link
            return find_target(conn, ep, prefer)
        if ep.connection not in self._listed:
            try:
                self._listed[ep.connection] = conn.list_containers()
            except CampaignBridgeError as exc:
                self._listed[ep.connection] = exc
        listed = self._listed[ep.connection]
        if isinstance(listed, CampaignBridgeError):
            raise listed
        _, named = conn.named(listed, ep.key, ep.container_name)
        if len(named) == 1:
            return named[0]
        return conn.find_container(ep.key, ep.container_name)


def live_problems(
    config: ClientConfig,
    connectors: Mapping[str, Connector],
    lines: dict[str, int],
    notes: list[Problem] | None = None,
) -> list[Problem]:
    """Check every rule against the live systems (see the module's docstring for what is checked).

    ``lines`` maps rule names to the line of the rule in the file (for messages). A connector's error
    while looking a container up is a problem of that rule, not a failure of the check. ``notes``, when
    given, receives what is worth knowing but not wrong: a target that mirrors a Salesforce campaign.
    """
    problems: list[Problem] = []
    containers = _Containers(connectors)
    for rule in config.rules:
        where = lines.get(rule.name)
        for side, ep in (("from", rule.source), ("to", rule.target)):
            if ep.key == "segment":
                continue
            conn = connectors[ep.connection]
            try:
                container = containers.find(ep, rule.match.prefer)
            except CampaignBridgeError as exc:
                problems.append(Problem(config.path, where, f"rule {rule.name!r} {side}: {exc}"))
                continue
            if side == "to":
                target = target_problem(rule, conn.system, container)
                reasons = [target] if target else []
                mirrored = _mirrored(conn, container)
                if notes is not None and mirrored is not None:
                    notes.append(
                        Problem(
                            config.path,
                            where,
                            f"rule {rule.name!r} to: {container.name!r} is connected to Salesforce campaign "
                            f"{mirrored}; {conn.system}'s own connector also writes its members there",
                        )
                    )
            else:
                reasons = source_problems(rule, container)
            problems += [Problem(config.path, where, f"rule {rule.name!r} {side}: {reason}") for reason in reasons]
    problems += _cycle_problems(config, containers, lines)
    return problems


def _cycle_problems(config: ClientConfig, containers: _Containers, lines: dict[str, int]) -> list[Problem]:
    """Loops and self-feeding rules among containers told apart by id (offline, only by how they are named).

    A container that could not be found keeps its offline identity: its rule already has a problem.
    """
    offline = offline_identity({name: conn.type for name, conn in config.connections.items()})

    def identity(ep: Endpoint) -> Hashable:
        container = containers.found(ep)
        if container is None:
            return offline(ep)
        # A campaign an MA system mirrors onto a Salesforce campaign (an Account Engagement connected
        # campaign, ``Connector.mirrors``) is that Salesforce campaign: the vendor's own connector copies
        # its membership there, so a rule writing it also writes the Salesforce campaign.
        mirrored = _mirrored(containers.connector(ep.connection), container)
        if mirrored is not None:
            return ("salesforce campaign", mirrored[:15])
        if config.connections[ep.connection].type == "salesforce" and container.kind is ContainerKind.CAMPAIGN:
            return ("salesforce campaign", container.id[:15])
        return (ep.connection, container.kind, container.id)

    rules = config.rules
    names = [rule.name for rule in rules]
    problems = [
        Problem(config.path, lines.get(rule.name), f"rule {rule.name!r} reads and writes the same container")
        for rule in rules
        if rule.source.key != "segment" and identity(rule.source) == identity(rule.target)
    ]
    for loop in rule_cycles(rules, identity):
        problems.append(Problem(config.path, lines.get(names[loop.cycle[0]]), cycle_message(loop, names)))
    return problems


def _mirrored(conn: Connector, container: Container) -> str | None:
    """The Salesforce campaign ``container`` mirrors (an optional ``mirrors`` of the connector), or None."""
    mirrors = getattr(conn, "mirrors", None)
    mirrored = mirrors(container) if callable(mirrors) else None
    return mirrored if isinstance(mirrored, str) else None


def check_live(config: ClientConfig, lines: dict[str, int]) -> list[Problem]:
    """Raise ``ConfigError`` with every live problem (see ``live_problems``); else return the notes.

    Opening the connectors may raise any ``CampaignBridgeError`` (credentials refused, a system down).
    """
    notes: list[Problem] = []
    with open_client(config) as client:
        problems = live_problems(config, client.connectors, lines, notes)
    if problems:
        raise ConfigError(problems)
    return notes
