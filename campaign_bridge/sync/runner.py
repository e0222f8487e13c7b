"""Wiring for callers (CLI, scheduler, demo): open a client's store and connectors, run rules, explain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.errors import CampaignBridgeError, ConfigError, Problem
from campaign_bridge.mapping.model import normalise_email
from campaign_bridge.mapping.semantics import target_refusal
from campaign_bridge.sync.store.store import Store


@dataclass
class Client:
    config: ClientConfig
    store: Store
    connectors: dict[str, Connector]


@contextmanager
def open_client(config: ClientConfig) -> Iterator[Client]:
    """The client's state store (migrated) and one connector per connection; closed on exit."""
    store = Store(config.state_url)
    connectors = {name: build_connector(name, settings) for name, settings in config.connections.items()}
    try:
        yield Client(config, store, connectors)
    finally:
        for c in connectors.values():
            c.close()
        store.close()


def live_problems(config: ClientConfig, connectors: dict[str, Connector], lines: dict[str, int]) -> list[Problem]:
    """Check every rule against the live systems: containers exist, targets can hold membership.

    ``lines`` maps rule names to the line of the rule in the file (for messages).
    """
    problems: list[Problem] = []
    for rule in config.rules:
        for side, ep in (("from", rule.source), ("to", rule.target)):
            if ep.key == "segment":
                continue
            conn = connectors[ep.connection]
            where = lines.get(rule.name)
            try:
                container = conn.find_container(ep.key, ep.container_name)
            except CampaignBridgeError as exc:
                problems.append(Problem(config.path, where, f"rule {rule.name!r} {side}: {exc}"))
                continue
            if side == "to":
                refusal = target_refusal(conn.system, container.kind)
                if not container.writable:
                    refusal = refusal or "the system says it cannot be written"
                if refusal:
                    problems.append(
                        Problem(
                            config.path, where, f"rule {rule.name!r} to: cannot write to {container.name!r}: {refusal}"
                        )
                    )
                if container.has_status and rule.target.status and container.status(rule.target.status) is None:
                    labels = ", ".join(s.label for s in container.statuses)
                    problems.append(
                        Problem(
                            config.path,
                            where,
                            f"rule {rule.name!r} to: {container.name!r} has no member status {rule.target.status!r}; it has {labels}",
                        )
                    )
    return problems


def check_live(config: ClientConfig, lines: dict[str, int]) -> None:
    """Raise ``ConfigError`` with every live problem (see ``live_problems``)."""
    with open_client(config) as client:
        problems = live_problems(config, client.connectors, lines)
    if problems:
        raise ConfigError(problems)


def explain(store: Store, config: ClientConfig, email: str) -> list[dict[str, Any]]:
    """For each rule: is this person in its target, and why (ledger state + latest decisions)."""
    normal = normalise_email(email) or ""
    out: list[dict[str, Any]] = []
    decisions = store.decisions(email=normal, limit=500)
    keys = {d["person_key"] for d in decisions if d["person_key"]}
    keys |= set(store.persons_by_emails([normal]).values())
    for rule in config.rules:
        rows = [r for k in keys for r in store.ledger(rule.name, [k]).values()]
        mine = [d for d in decisions if d["rule"] == rule.name]
        target = f"{rule.target.connection}:{rule.target.container_name}"
        if rows:
            row = rows[0]
            if row.state == "present":
                who = "added by this rule" if row.owned else "was already there (not added by this rule)"
                verdict = f"in {target}" + (f" with status {row.status!r}" if row.status else "") + f"; {who}"
            elif row.state == "pending":
                verdict = f"maybe in {target}: a run stopped while adding this person; the next run confirms it"
            else:
                verdict = f"not in {target}: {row.state}" + (f" ({row.last_error})" if row.last_error else "")
        elif mine:
            verdict = f"not in {target}: see the decisions below"
        else:
            verdict = (
                f"not in {target}: not in this rule's source ({rule.source.connection}:{rule.source.container_name})"
            )
        out.append(
            {
                "rule": rule.name,
                "target": target,
                "verdict": verdict,
                "decisions": [
                    {
                        "at": d["at"].isoformat() if d["at"] else None,
                        "kind": d["kind"],
                        "detail": d["detail"],
                        "run_id": d["run_id"],
                    }
                    for d in mine[:10]
                ],
            }
        )
    return out
