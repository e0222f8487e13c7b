"""Checks that need the whole validated file: references, semantics of each system, rule cycles."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from campaign_bridge.config.alerts import alert_problems
from campaign_bridge.config.cycles import Identity, cycle_message, offline_identity, rule_cycles
from campaign_bridge.config.document import Located, Path_
from campaign_bridge.config.models import ClientConfig, Endpoint, Rule
from campaign_bridge.errors import Problem
from campaign_bridge.mapping.segment import Op, Segment, SegmentField, conditions
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
        for is_target, endpoint, alias in ((False, rule.source, "from"), (True, rule.target, "to")):
            path = (*base, alias)
            problems.extend(_endpoint_problems(config, doc, endpoint, is_target, path, known_connections))
        if identity(rule.source) == identity(rule.target):
            problems.append(doc.problem((*base, "to"), f"rule {rule.name!r} reads and writes the same container"))
        target = config.connections.get(rule.target.connection)
        if target is not None and SEMANTICS[target.type].role is Role.MA and rule.match.create_missing == "lead":
            problems.append(
                doc.problem(
                    (*base, "match", "create_missing"), "create_missing: lead only makes sense for a CRM target"
                )
            )
    problems.extend(_cycle_problems(rules, doc, identity))
    problems.extend(alert_problems(config.alerts, doc))
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
    is_target: bool,
    path: tuple[str | int, ...],
    known: set[str],
) -> list[Problem]:
    out: list[Problem] = []
    conn = config.connections.get(ep.connection)
    if conn is None:
        if ep.connection not in known:
            out.append(_unknown_connection(doc, path, ep.connection, known))
        return out
    system = conn.type
    sem = SEMANTICS[system]
    key = ep.key
    if key == "segment":
        if is_target:
            out.append(
                doc.problem((*path, "segment"), "a segment can only be a source: it is a filter, not a container")
            )
        else:
            segment = ep.parsed_segment
            assert segment is not None
            out.extend(_segment_problems(doc, (*path, "segment"), segment, system))
        return out
    if not kinds_for(system, key):
        out.append(doc.problem((*path, key), f"{system} has no '{key}' containers; it has: {', '.join(sem.keys)}"))
        return out
    if is_target:
        refusal = static_target_refusal(system, key)
        if refusal:
            out.append(doc.problem((*path, key), f"cannot write to this {key}: {refusal}"))
        has_status = any(k.has_status for k in kinds_for(system, key))
        if has_status and ep.status is None and ep.status_map is None:
            out.append(doc.problem((*path, key), f"a {system} {key} target needs 'status': the member status to set"))
        if not has_status and ep.status is not None:
            out.append(doc.problem((*path, "status"), f"a {system} {key} has no member status; remove 'status'"))
        if not has_status and ep.status_map is not None:
            out.append(
                doc.problem((*path, "status_map"), f"a {system} {key} has no member status; remove 'status_map'")
            )
        if ep.member_status is not None:
            out.append(
                doc.problem((*path, "member_status"), "member_status filters a source; on a target use 'status'")
            )
    else:
        kinds = kinds_for(system, key)
        if not any(k.holds_membership for k in kinds):
            out.append(doc.problem((*path, key), f"cannot read members of this {key}: {kinds[0].why_not}"))
        if ep.status is not None:
            out.append(
                doc.problem((*path, "status"), "'status' sets a target's member status; on a source use member_status")
            )
        if ep.status_map is not None:
            out.append(doc.problem((*path, "status_map"), "status_map belongs on the rule's target ('to:')"))
        if ep.member_status is not None and not any(k.has_status for k in kinds_for(system, key)):
            out.append(doc.problem((*path, "member_status"), f"a {system} {key} has no member statuses to filter on"))
    return out


def _segment_problems(doc: Located, path: Path_, segment: Segment, system: str) -> list[Problem]:
    """Each condition on a field ``system``'s connector cannot filter on, or with a ``contains`` value its
    search would read as a wildcard: at the condition's line, with the fields it can filter on."""
    fields = _segment_fields(system)
    if fields is None:
        return []
    if not fields:
        return [doc.problem(path, f"{system} cannot read segments; use one of its containers as the source")]
    known = ", ".join(sorted(fields))
    problems = []
    for where, condition in conditions(segment):
        declared = fields.get(condition.field)
        if declared is None:
            message = f"{system} cannot filter people on {condition.field}; it can on: {known}"
            problems.append(doc.problem((*path, *where, "field"), message))
        elif condition.op is Op.CONTAINS and (held := sorted(set(condition.value) & set(declared.wildcards))):
            message = (
                f"{system} reads {' '.join(held)} in a search as a wildcard and cannot escape it, so "
                f"contains {condition.value!r} would match far more people than hold that text; remove it"
            )
            problems.append(doc.problem((*path, *where, "contains"), message))
    return problems


def _segment_fields(system: str) -> Mapping[str, SegmentField] | None:
    """The segment fields the system's connector declares (``Connector.segment_fields``), or None when its
    connector cannot be loaded (reported with the connection)."""
    from campaign_bridge.connectors.registry import connector_class

    try:
        return connector_class(system).segment_fields
    except (KeyError, ImportError):
        return None


def _cycle_problems(rules: list[tuple[int, Rule]], doc: Located, identity: Identity) -> list[Problem]:
    """Rule A feeds container X, rule B reads X and feeds Y, … back to A's source: refuse, once per loop."""
    names = [rule.name for _, rule in rules]
    return [
        doc.problem(("rules", rules[loop.cycle[0]][0], "to"), cycle_message(loop, names))
        for loop in rule_cycles([rule for _, rule in rules], identity)
    ]
