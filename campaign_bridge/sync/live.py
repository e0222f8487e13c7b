"""``validate``'s live checks: every rule's containers exist, and each target accepts what the rule writes.

The target check is ``sync.target.target_problem``, the one a run makes before it starts, so ``validate``
refuses a file with the words a run would use. Unlike a run, it goes on after a problem and reports them all.
"""

from __future__ import annotations

from collections.abc import Mapping

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.errors import CampaignBridgeError, ConfigError, Problem
from campaign_bridge.sync.client import open_client
from campaign_bridge.sync.target import target_problem


def live_problems(config: ClientConfig, connectors: Mapping[str, Connector], lines: dict[str, int]) -> list[Problem]:
    """Check every rule against the live systems: containers exist, targets can hold membership.

    ``lines`` maps rule names to the line of the rule in the file (for messages). A connector's error
    while looking a container up is a problem of that rule, not a failure of the check.
    """
    problems: list[Problem] = []
    for rule in config.rules:
        where = lines.get(rule.name)
        for side, ep in (("from", rule.source), ("to", rule.target)):
            if ep.key == "segment":
                continue
            conn = connectors[ep.connection]
            try:
                container = conn.find_container(ep.key, ep.container_name)
            except CampaignBridgeError as exc:
                problems.append(Problem(config.path, where, f"rule {rule.name!r} {side}: {exc}"))
                continue
            problem = target_problem(rule, conn.system, container) if side == "to" else None
            if problem:
                problems.append(Problem(config.path, where, f"rule {rule.name!r} to: {problem}"))
    return problems


def check_live(config: ClientConfig, lines: dict[str, int]) -> None:
    """Raise ``ConfigError`` with every live problem (see ``live_problems``).

    Opening the connectors may raise any ``CampaignBridgeError`` (credentials refused, a system down).
    """
    with open_client(config) as client:
        problems = live_problems(config, client.connectors, lines)
    if problems:
        raise ConfigError(problems)
