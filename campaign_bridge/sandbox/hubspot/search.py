"""``POST /crm/v3/objects/contacts/search``: request validation, filterGroups evaluation, sorting, paging.

Semantics follow HubSpot's documentation: groups are ORed, filters within a group ANDed; at most 5 groups,
6 filters per group, 18 filters in all; one sort; ``limit`` <= 200; no result past the 10,000th. The
error messages for those caps are not published, so ours are worded plainly [U]. Where the docs are silent
the emulator chooses, and says so: ``NEQ``/``NOT_IN``/``NOT_CONTAINS_TOKEN`` also match records without a
value [U]; records without the sort property sort last in either direction [U]; ties sort by id.

Results of one query are cached until the portal changes, so paging a large result costs one scan.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from campaign_bridge.sandbox.hubspot.contacts import Contact, ContactStore
from campaign_bridge.sandbox.hubspot.errors import validation_error
from campaign_bridge.sandbox.hubspot.values import DATETIME, NUMBER, iso_ms, parse_time_ms

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_LIMIT, DEFAULT_LIMIT, RESULT_CAP, MAX_QUERY_CHARS = 200, 10, 10_000, 3000
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
_TEXT_FIELDS = ("email", "firstname", "lastname", "company", "phone")
_TOKEN = re.compile(r"[\w*]+")

Key = int | float | str
Predicate = Callable[[Contact], bool]


@dataclass(frozen=True, slots=True)
class SearchRequest:
    groups: list[list[dict[str, Any]]]
    sort: tuple[str, bool] | None  # (property, descending)
    query: str
    properties: list[str] | None
    limit: int
    after: int

    def cache_key(self) -> str:
        return json.dumps([self.groups, self.sort, self.query], sort_keys=True)


def parse_request(body: Any, schema: Mapping[str, str]) -> SearchRequest:
    """Validate a search body as HubSpot does. Raises HubSpotError (400 VALIDATION_ERROR)."""
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: the search request must be a JSON object")
    groups = [list(g.get("filters") or []) for g in body.get("filterGroups") or [] if isinstance(g, dict)]
    if len(groups) > MAX_GROUPS:
        raise validation_error(f"Too many filter groups ({len(groups)}); the maximum is {MAX_GROUPS}.")
    for group in groups:
        if len(group) > MAX_FILTERS_PER_GROUP:
            raise validation_error(
                f"Too many filters in a filter group ({len(group)}); the maximum is {MAX_FILTERS_PER_GROUP}."
            )
        for item in group:
            _check_filter(item, schema)
    total = sum(len(g) for g in groups)
    if total > MAX_FILTERS:
        raise validation_error(f"Too many filters ({total}); the maximum across all filter groups is {MAX_FILTERS}.")
    sorts = body.get("sorts") or []
    if len(sorts) > 1:
        raise validation_error("Only one sort is supported.")
    sort = _parse_sort(sorts[0], schema) if sorts else None
    query = str(body.get("query") or "")
    if len(query) > MAX_QUERY_CHARS:
        raise validation_error(f"query must be at most {MAX_QUERY_CHARS} characters.")
    limit = _int(body.get("limit"), DEFAULT_LIMIT, "limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {MAX_LIMIT}.", limit=[str(limit)])
    after = _int(body.get("after"), 0, "after")
    if after < 0:
        raise validation_error("after must be a non-negative integer.", after=[str(after)])
    if after + limit > RESULT_CAP:  # HubSpot refuses any page reaching past the 10,000th result
        raise validation_error(
            f"Search results are limited to {RESULT_CAP} records; the page after={after} limit={limit} "
            "reaches past that. Narrow the query (for example by a property range) and page within it.",
            after=[str(after)],
        )
    properties = body.get("properties")
    return SearchRequest(groups, sort, query, list(properties) if properties else None, limit, after)


class SearchEngine:
    """Evaluates searches over a ContactStore, caching full results until the store's version changes."""

    def __init__(self, store: ContactStore, cache_size: int = 32) -> None:
        self.store = store
        self._cache: OrderedDict[str, tuple[int, list[Contact]]] = OrderedDict()
        self._cache_size = cache_size

    def run(self, request: SearchRequest) -> tuple[list[Contact], int]:
        """The page ``[after, after+limit)`` of the ordered matches, and the total number of matches."""
        key = request.cache_key()
        cached = self._cache.get(key)
        if cached is not None and cached[0] == self.store.version:
            self._cache.move_to_end(key)
            matches = cached[1]
        else:
            matches = self._evaluate(request)
            self._cache[key] = (self.store.version, matches)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return matches[request.after : request.after + request.limit], len(matches)

    def _evaluate(self, request: SearchRequest) -> list[Contact]:
        groups = [[self._predicate(f) for f in group] for group in request.groups if group]
        text = _text_predicate(self.store, request.query) if request.query.strip() else None
        matches = [
            c
            for c in self.store.all()
            if not c.archived
            and (not groups or any(all(p(c) for p in group) for group in groups))
            and (text is None or text(c))
        ]
        if request.sort is None:
            return matches  # the store iterates in id order
        name, descending = request.sort
        key = self._accessor(name)
        present = [c for c in matches if key(c) is not None]
        missing = [c for c in matches if key(c) is None]
        present.sort(key=lambda c: key(c), reverse=descending)  # type: ignore[arg-type,return-value]
        return present + missing

    def _accessor(self, name: str) -> Callable[[Contact], Key | None]:
        """A comparable view of a property: ints for ids and record timestamps, floats for numbers, ISO
        strings for other datetimes (their fixed format sorts in time order), lower-case text otherwise."""
        if name == "hs_object_id":
            return lambda c: c.id
        if name == "createdate":
            return lambda c: c.created_ms
        if name == "lastmodifieddate":
            return lambda c: c.updated_ms
        kind = self.store.schema.get(name)
        if kind == NUMBER:
            return lambda c: _float(c.properties.get(name))
        if kind == DATETIME:
            return lambda c: c.properties.get(name) or None
        return lambda c: (c.properties.get(name) or "").lower() or None

    def _operand(self, name: str, raw: Any) -> Key:
        """A filter value converted to the accessor's form. Raises HubSpotError when it does not fit."""
        kind = self.store.schema.get(name)
        if name in ("createdate", "lastmodifieddate", "hs_object_id") or kind in (NUMBER, DATETIME):
            if name == "hs_object_id" or kind == NUMBER:
                number = _float(str(raw))
                if number is None:
                    raise validation_error(f"{raw} is not a valid number for property {name}.")
                return int(number) if name == "hs_object_id" else number
            millis = parse_time_ms(raw)
            if millis is None:
                raise validation_error(f"{raw} is not a valid datetime for property {name}.")
            return millis if name in ("createdate", "lastmodifieddate") else iso_ms(millis)
        return str(raw).lower()

    def _predicate(self, item: Mapping[str, Any]) -> Predicate:
        name, op = str(item["propertyName"]), str(item["operator"])
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            contains = _token_matcher(str(item.get("value") or ""))
            store = self.store
            if op == "CONTAINS_TOKEN":
                return lambda c: contains(store.value(c, name))
            return lambda c: not contains(store.value(c, name))
        get = self._accessor(name)
        if op == "HAS_PROPERTY":
            return lambda c: get(c) is not None
        if op == "NOT_HAS_PROPERTY":
            return lambda c: get(c) is None
        if op in ("IN", "NOT_IN"):
            wanted = {self._operand(name, v) for v in item.get("values") or []}
            if op == "IN":
                return lambda c: get(c) in wanted
            return lambda c: get(c) not in wanted
        target: Any = self._operand(name, item.get("value"))
        if op == "BETWEEN":
            high: Any = self._operand(name, item.get("highValue"))
            return lambda c: (v := get(c)) is not None and target <= v <= high
        compare: dict[str, Callable[[Any], bool]] = {
            "EQ": lambda v: v is not None and v == target,
            "NEQ": lambda v: v is None or v != target,
            "LT": lambda v: v is not None and v < target,
            "LTE": lambda v: v is not None and v <= target,
            "GT": lambda v: v is not None and v > target,
            "GTE": lambda v: v is not None and v >= target,
        }
        test = compare[op]
        return lambda c: test(get(c))


def _check_filter(item: Any, schema: Mapping[str, str]) -> None:
    if not isinstance(item, dict) or not item.get("propertyName") or not item.get("operator"):
        raise validation_error("Each filter needs a propertyName and an operator.")
    name, op = item["propertyName"], item["operator"]
    if op not in OPERATORS:
        raise validation_error(f"Unknown operator {op}; one of {sorted(OPERATORS)}.", operator=[str(op)])
    if name not in schema:
        raise validation_error(f"Property {name} does not exist on object type CONTACT.", propertyName=[name])
    if op in ("IN", "NOT_IN") and not item.get("values"):
        raise validation_error(f"Operator {op} requires values.", propertyName=[name])
    if op == "BETWEEN" and (item.get("value") is None or item.get("highValue") is None):
        raise validation_error("Operator BETWEEN requires value and highValue.", propertyName=[name])
    if op not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY") and item.get("value") is None:
        raise validation_error(f"Operator {op} requires a value.", propertyName=[name])


def _parse_sort(raw: Any, schema: Mapping[str, str]) -> tuple[str, bool]:
    # The client types sorts as strings; HubSpot takes {"propertyName","direction"} or a bare name,
    # with a leading "-" for descending [U for the string form].
    if isinstance(raw, dict):
        name, descending = str(raw.get("propertyName") or ""), str(raw.get("direction") or "") == "DESCENDING"
    else:
        text = str(raw)
        name, descending = text.lstrip("-"), text.startswith("-")
    if name not in schema:
        raise validation_error(f"Cannot sort by {name}: the property does not exist.", propertyName=[name])
    return name, descending


def _token_matcher(pattern: str) -> Callable[[str | None], bool]:
    """CONTAINS_TOKEN: a ``*`` wildcard pattern matches the whole value or one token; otherwise the
    pattern's tokens must appear consecutively among the value's tokens (case-insensitive)."""
    pattern = pattern.lower()
    wanted = _TOKEN.findall(pattern)
    # Only ``*`` is a wildcard: ``?``, ``[`` and the rest match themselves (fnmatch would take them as
    # wildcards too, and an address with a ``?`` in it would match what HubSpot does not).
    wildcard = re.compile(".*".join(map(re.escape, pattern.split("*"))), re.DOTALL) if "*" in pattern else None

    def matches(value: str | None) -> bool:
        if not value:
            return False
        text = value.lower()
        tokens = _TOKEN.findall(text)
        if wildcard is not None:
            return wildcard.fullmatch(text) is not None or any(wildcard.fullmatch(t) is not None for t in tokens)
        n = len(wanted)
        return n > 0 and any(tokens[i : i + n] == wanted for i in range(len(tokens) - n + 1))

    return matches


def _text_predicate(store: ContactStore, query: str) -> Predicate:
    words = [w.lower() for w in _TOKEN.findall(query)]

    def matches(contact: Contact) -> bool:
        tokens: list[str] = []
        for name in _TEXT_FIELDS:
            tokens.extend(_TOKEN.findall((contact.properties.get(name) or "").lower()))
        return all(any(t.startswith(w) for t in tokens) for w in words)

    return matches


def _int(raw: Any, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise validation_error(f"{name} must be an integer, not {raw!r}.") from None


def _float(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def page_body(rendered: Sequence[dict[str, Any]], total: int, after: int, limit: int) -> dict[str, Any]:
    """The CollectionResponseWithTotal body; ``paging.next`` whenever matches remain (even past 10,000,
    where following it gets the 400, as on HubSpot)."""
    body: dict[str, Any] = {"total": total, "results": list(rendered)}
    if after + limit < total:
        body["paging"] = {"next": {"after": str(after + limit)}}
    return body
