"""Turn a DYNAMIC list's ``filterBranch`` into a predicate over contacts, for the subset the emulator knows.

Supported: an ``OR`` root of ``AND`` branches (nested further as deep as wanted) holding ``PROPERTY``
filters whose ``operation`` is one of ``IS_KNOWN IS_UNKNOWN IS_EQUAL_TO IS_NOT_EQUAL_TO CONTAINS
DOES_NOT_CONTAIN STARTS_WITH ENDS_WITH IS_ANY_OF IS_NONE_OF IS_GREATER_THAN IS_GREATER_THAN_OR_EQUAL_TO
IS_LESS_THAN IS_LESS_THAN_OR_EQUAL_TO``. Anything else (event filters, associations, relative dates) gives
``None``: such a list keeps the members seeding gave it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from campaign_bridge.sandbox.hubspot.contacts import Contact, ContactStore
from campaign_bridge.sandbox.hubspot.values import parse_time_ms

ContactPredicate = Callable[[Contact], bool]


def compile_branch(branch: Mapping[str, Any] | None, store: ContactStore) -> ContactPredicate | None:
    """A predicate for ``branch``, or ``None`` when any part of it is outside the supported subset."""
    if not branch:
        return None
    kind = branch.get("filterBranchType")
    if kind not in ("OR", "AND"):
        return None
    parts: list[ContactPredicate] = []
    for sub in branch.get("filterBranches") or []:
        compiled = compile_branch(sub, store)
        if compiled is None:
            return None
        parts.append(compiled)
    for item in branch.get("filters") or []:
        compiled = _compile_filter(item, store)
        if compiled is None:
            return None
        parts.append(compiled)
    if not parts:
        return lambda c: kind == "AND"  # an empty AND matches everyone, an empty OR no one
    if kind == "OR":
        return lambda c: any(p(c) for p in parts)
    return lambda c: all(p(c) for p in parts)


def _compile_filter(item: Mapping[str, Any], store: ContactStore) -> ContactPredicate | None:
    if item.get("filterType") != "PROPERTY" or not isinstance(item.get("operation"), dict):
        return None
    name = str(item.get("property") or "")
    operation: Mapping[str, Any] = item["operation"]
    operator = str(operation.get("operator") or "")
    if operator == "IS_KNOWN":
        return lambda c: store.value(c, name) is not None
    if operator == "IS_UNKNOWN":
        return lambda c: store.value(c, name) is None
    if operator in ("IS_ANY_OF", "IS_NONE_OF"):
        options = {str(v).lower() for v in operation.get("values") or []}
        if operator == "IS_ANY_OF":
            return lambda c: (store.value(c, name) or "").lower() in options
        return lambda c: (store.value(c, name) or "").lower() not in options
    text = str(operation.get("value", "")).lower()
    strings: dict[str, Callable[[str], bool]] = {
        "IS_EQUAL_TO": lambda v: v == text,
        "IS_NOT_EQUAL_TO": lambda v: v != text,
        "CONTAINS": lambda v: text in v,
        "DOES_NOT_CONTAIN": lambda v: text not in v,
        "STARTS_WITH": lambda v: v.startswith(text),
        "ENDS_WITH": lambda v: v.endswith(text),
    }
    if operator in strings and operation.get("operationType") not in ("NUMBER", "TIME_POINT"):
        test = strings[operator]
        return lambda c: test((store.value(c, name) or "").lower())
    return _compile_ordering(name, operator, operation.get("value"), store)


def _compile_ordering(name: str, operator: str, raw: Any, store: ContactStore) -> ContactPredicate | None:
    bound = _number(raw)
    if bound is None:
        return None
    tests: dict[str, Callable[[float], bool]] = {
        "IS_EQUAL_TO": lambda v: v == bound,
        "IS_NOT_EQUAL_TO": lambda v: v != bound,
        "IS_GREATER_THAN": lambda v: v > bound,
        "IS_GREATER_THAN_OR_EQUAL_TO": lambda v: v >= bound,
        "IS_LESS_THAN": lambda v: v < bound,
        "IS_LESS_THAN_OR_EQUAL_TO": lambda v: v <= bound,
    }
    test = tests.get(operator)
    if test is None:
        return None

    def matches(contact: Contact) -> bool:
        value = _number(store.value(contact, name))
        return value is not None and test(value)

    return matches


def _number(raw: Any) -> float | None:
    """Numbers as numbers; datetimes (ISO or epoch ms) as epoch milliseconds."""
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        millis = parse_time_ms(raw)
        return None if millis is None else float(millis)
