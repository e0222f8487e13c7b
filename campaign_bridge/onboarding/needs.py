"""What each rule asks of the integration user on each connection it touches.

A source container is read (``READ_MEMBERS``); a source segment reads people's profiles and activities
(``READ_BEHAVIOUR``). A target is written (``WRITE_MEMBERS``) after its people are looked up
(``READ_PEOPLE``); a ``mirror`` rule also removes (``REMOVE_MEMBERS``), and one that creates the people a
target lacks (``match.create_missing``, by default ``contact`` for an MA target) creates them
(``CREATE_PEOPLE``).
"""

from __future__ import annotations

from campaign_bridge.config.models import ClientConfig, Mode
from campaign_bridge.connectors.discovery import Need
from campaign_bridge.mapping.semantics import SEMANTICS, Role

#: Connection → need → the rules that need it (in file order).
Needs = dict[str, dict[Need, list[str]]]


def rule_needs(config: ClientConfig) -> Needs:
    """Every connection's needs (a connection without rules has none), in ``Need`` order."""
    needs: Needs = {name: {} for name in config.connections}

    def add(connection: str, need: Need, rule: str) -> None:
        rules = needs.setdefault(connection, {}).setdefault(need, [])
        if rule not in rules:
            rules.append(rule)

    for rule in config.rules:
        source, target = rule.source, rule.target
        add(source.connection, Need.READ_BEHAVIOUR if source.key == "segment" else Need.READ_MEMBERS, rule.name)
        add(target.connection, Need.READ_PEOPLE, rule.name)
        add(target.connection, Need.WRITE_MEMBERS, rule.name)
        if config.mode_of(rule) is Mode.MIRROR:
            add(target.connection, Need.REMOVE_MEMBERS, rule.name)
        if _creates(config, target.connection, rule.match.create_missing):
            add(target.connection, Need.CREATE_PEOPLE, rule.name)
    order = list(Need)
    return {conn: dict(sorted(found.items(), key=lambda kv: order.index(kv[0]))) for conn, found in needs.items()}


def _creates(config: ClientConfig, connection: str, create_missing: str | None) -> bool:
    """Whether a rule writing to ``connection`` creates people, as ``sync.identity`` decides it: the rule's
    ``create_missing``, else ``contact`` for an MA target and ``skip`` for a CRM one."""
    if create_missing is not None:
        return create_missing != "skip"
    settings = config.connections.get(connection)
    sem = SEMANTICS.get(settings.type) if settings is not None else None
    return sem is not None and sem.role is Role.MA
