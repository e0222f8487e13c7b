"""Checks that need the whole validated file: references, semantics of each system, rule cycles."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from campaign_bridge.config.cycles import Identity, offline_identity, rule_cycles
from campaign_bridge.config.document import Located
from campaign_bridge.config.models import ClientConfig, Endpoint, Rule
from campaign_bridge.errors import Problem
from campaign_bridge.mapping.segment import fields_of
from campaign_bridge.mapping.semantics import SEMANTICS, Role, kinds_for, static_target_refusal


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def semantic_problems(
    config: ClientConfig, rules: list[tuple[int, Rule]], doc: Located, known_connections: set[str]
) -> list[Problem]:
    """Problems of the rules that validated on their own; ``rules`` pairs each with its index in the file."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    identity = offline_identity({name: conn.type for name, conn in config.connections.items()})
    for i, rule in rules:
        base = ("rules", i)
        if rule.name in seen:
            problems.append(doc.problem((*base, "name"), f"rule name {rule.name!r} is used twice"))
        seen[rule.name] = i
        roles: dict[str, Role] = {}
        for side, endpoint, alias in (("source", rule.source, "from"), ("target", rule.target, "to")):
            path = (*base, alias)
            problems.extend(_endpoint_problems(config, doc, endpoint, side, path, known_connections, roles))
        if identity(rule.source) == identity(rule.target):
            problems.append(doc.problem((*base, "to"), f"rule {rule.name!r} reads and writes the same container"))
        if roles.get("source") is Role.CRM and rule.match.create_missing in ("lead",):
            problems.append(
                doc.problem(
                    (*base, "match", "create_missing"), "create_missing: lead only makes sense for a CRM target"
                )
            )
    problems.extend(_cycle_problems(rules, doc, identity))
    return problems


def invalid_rule_problems(raw_rules: list[object], valid: set[int], doc: Located, known: set[str]) -> list[Problem]:
    """What can still be said of the rules that failed validation: the connections they name.

    A rule with a misspelt key *and* a misspelt connection gets both problems in one ``validate``, not
    the second one only after the first is fixed.
    """
    problems: list[Problem] = []
    for i, raw in enumerate(raw_rules):
        if i in valid or not isinstance(raw, dict):
            continue
        for alias in ("from", "to"):
            endpoint = raw.get(alias)
            name = endpoint.get("connection") if isinstance(endpoint, dict) else None
            if isinstance(name, str) and name not in known:
                problems.append(_unknown_connection(doc, ("rules", i, alias), name, known))
    return problems


def _unknown_connection(doc: Located, path: tuple[str | int, ...], name: str, known: set[str]) -> Problem:
    return doc.problem((*path, "connection"), f"unknown connection {name!r}{did_you_mean(name, sorted(known))}")


def _endpoint_problems(
    config: ClientConfig,
    doc: Located,
    ep: Endpoint,
    side: str,
    path: tuple[str | int, ...],
    known: set[str],
    roles: dict[str, Role],
) -> list[Problem]:
    out: list[Problem] = []
    conn = config.connections.get(ep.connection)
    if conn is None:
        if ep.connection not in known:
            out.append(_unknown_connection(doc, path, ep.connection, known))
        return out
    system = conn.type
    sem = SEMANTICS[system]
    roles[side] = sem.role
    key = ep.key
    if key == "segment":
        if side == "target":
            out.append(
                doc.problem((*path, "segment"), "a segment can only be a source: it is a filter, not a container")
            )
        else:
            segment = ep.parsed_segment
            assert segment is not None
            # Every segment field must be one the system can filter on; connectors publish that list.
            supported = _segment_fields(system)
            if supported is not None:
                bad = sorted(fields_of(segment) - supported)
                if bad:
                    out.append(
                        doc.problem(
                            (*path, "segment"),
                            f"{system} cannot filter people on {', '.join(bad)}; it can on: {', '.join(sorted(supported))}",
                        )
                    )
        return out
    if not kinds_for(system, key):
        out.append(doc.problem((*path, key), f"{system} has no '{key}' containers; it has: {', '.join(sem.keys)}"))
        return out
    if side == "target":
        refusal = static_target_refusal(system, key)
        if refusal:
            out.append(doc.problem((*path, key), f"cannot write to this {key}: {refusal}"))
        has_status = any(k.has_status for k in kinds_for(system, key))
        if has_status and ep.status is None:
            out.append(doc.problem((*path, key), f"a {system} {key} target needs 'status': the member status to set"))
        if not has_status and ep.status is not None:
            out.append(doc.problem((*path, "status"), f"a {system} {key} has no member status; remove 'status'"))
        if ep.member_status is not None:
            out.append(
                doc.problem((*path, "member_status"), "member_status filters a source; on a target use 'status'")
            )
    else:
        if ep.status is not None:
            out.append(
                doc.problem((*path, "status"), "'status' sets a target's member status; on a source use member_status")
            )
        if ep.member_status is not None and not any(k.has_status for k in kinds_for(system, key)):
            out.append(doc.problem((*path, "member_status"), f"a {system} {key} has no member statuses to filter on"))
    return out


def _segment_fields(system: str) -> set[str] | None:
    """Canonical fields the system's connector can filter on, or None when it does not say."""
    from campaign_bridge.connectors.registry import connector_class

    try:
        cls = connector_class(system)
    except (KeyError, ImportError):
        return None
    fields = getattr(cls, "segment_fields", None)
    return set(fields) if fields is not None else None


def _cycle_problems(rules: list[tuple[int, Rule]], doc: Located, identity: Identity) -> list[Problem]:
    """Rule A feeds container X, rule B reads X and feeds Y, … back to A's source: refuse, once per loop."""
    problems: list[Problem] = []
    for loop in rule_cycles([rule for _, rule in rules], identity):
        first = rules[loop.cycle[0]]
        shown = " → ".join(rules[p][1].name for p in loop.cycle)
        message = f"rule cycle: {shown} (each rule feeds the next one's source; break the loop)"
        if loop.others:
            message += f"; also in this loop: {', '.join(rules[p][1].name for p in loop.others)}"
        problems.append(doc.problem(("rules", first[0], "to"), message))
    return problems
