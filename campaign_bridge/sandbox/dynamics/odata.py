"""The OData query options the Dataverse emulator understands, and FetchXML for dynamic lists.

Checked against Learn "Query data using the Web API" and "Filter rows" (power-apps/developer/data-platform/
webapi/query/…) and ``reference/api-facts.md`` §3:

* ``$filter``: ``eq ne gt ge lt le``, ``and or not``, parentheses, string literals with ``''`` for a quote,
  GUIDs, numbers, ``true false null``, ISO dates; ``contains/startswith/endswith(prop,'x')`` and the query
  functions ``Microsoft.Dynamics.CRM.In(PropertyName='p',PropertyValues=['a','b'])`` and ``NotIn``. Anything else is refused
  with Dataverse's syntax-error code, as Dataverse refuses it (it never guesses). String comparisons are
  case-insensitive, as Dataverse's SQL collation is (an email matches whatever its case).
* ``$select`` (unknown column: 400 ``0x80060888`` "Could not find a property named …"), ``$orderby`` (one or
  more ``prop [asc|desc]``), ``$top``, ``$count=true``; ``$skip`` is refused (Dataverse does not support it).
* FetchXML (Learn "Query data using FetchXml"): ``<fetch page count>``, one ``<entity>``, ``<attribute>``,
  nested ``<filter type="and|or">`` of ``<condition attribute operator value>`` with ``eq ne like not-like
  null not-null gt ge lt le in`` (``<value>`` children), ``<order attribute descending>``. ``link-entity``
  and aggregates, which Dynamics evaluates, are refused here rather than answered wrongly.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
#: ``nav/column`` → how to read it from a record, or None when the entity has no such navigation.
Navigate = Callable[[str], Callable[[Record], Any] | None]

IN_FUNCTION = "Microsoft.Dynamics.CRM.In"
NOT_IN_FUNCTION = "Microsoft.Dynamics.CRM.NotIn"


class QueryError(ValueError):
    """A query Dataverse would refuse: the code and message it answers with (400)."""

    def __init__(self, message: str, code: str = "0x80060888") -> None:
        super().__init__(message)
        self.code = code


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),\[\]=])"
    r"|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))"
    r"|(?P<word>[A-Za-z_][\w./]*)"
    r"|(?P<dt>\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)"
    r"|(?P<num>-?\d+(?:\.\d+)?))"
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"Syntax error at position {pos} in '{text}'.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, left: Any, right: Any) -> bool:
    left, right = _fold(left), _fold(right)
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        return bool({"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op])
    except TypeError:
        return False


class _Parser:
    def __init__(self, text: str, columns: set[str], navigate: Navigate | None = None) -> None:
        self.tokens = _tokens(text)
        self.i = 0
        self.text = text
        self.columns = columns
        self.navigate = navigate

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise QueryError(f"Syntax error: expected {value or 'more'} in '{self.text}'.")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek() is not None:
            raise QueryError(f"Syntax error at '{self.peek()[1]}' in '{self.text}'.")  # type: ignore[index]
        return pred

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while (tok := self.peek()) is not None and tok[1] == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while (tok := self.peek()) is not None and tok[1] == "and":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def unary(self) -> Predicate:
        tok = self.peek()
        if tok is not None and tok[1] == "not":
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if tok is not None and tok[1] == "(":
            self.take()
            inner = self.or_expr()
            self.take(")")
            return inner
        return self.primary()

    def column(self, name: str) -> str:
        if name in self.columns:
            return name
        lookup = f"_{name}_value"
        if lookup in self.columns:
            return lookup
        raise QueryError(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM'.")

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "guid":
            return value.lower()
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "dt":
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        if kind == "word" and value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        raise QueryError(f"Syntax error: '{value}' is not a literal in '{self.text}'.")

    def primary(self) -> Predicate:
        kind, word = self.take()
        if kind != "word":
            raise QueryError(f"Syntax error at '{word}' in '{self.text}'.")
        if word in (IN_FUNCTION, NOT_IN_FUNCTION):
            member = self.in_function()
            return member if word == IN_FUNCTION else (lambda r: not member(r))
        if word in ("contains", "startswith", "endswith"):
            self.take("(")
            col = self.column(self.take()[1])
            self.take(",")
            needle = _fold(self.literal())
            self.take(")")
            test: Callable[[str], bool] = {
                "contains": lambda v: needle in v,
                "startswith": lambda v: v.startswith(needle),
                "endswith": lambda v: v.endswith(needle),
            }[word]
            return lambda r: isinstance(r.get(col), str) and test(r[col].casefold())
        read = self.reader(word)
        op = self.take()[1]
        if op not in _OPS:
            raise QueryError(f"Syntax error: unknown operator '{op}' in '{self.text}'.")
        value = self.literal()
        return lambda r: _compare(op, _comparable(read(r), value), value)

    def reader(self, word: str) -> Callable[[Record], Any]:
        """A column of the record, or (``nav/column``) of the record a single-valued navigation names."""
        if "/" in word:
            found = self.navigate(word) if self.navigate is not None else None
            if found is None:
                raise QueryError(
                    f"Could not find a property named '{word.split('/')[0]}' on type 'Microsoft.Dynamics.CRM'."
                )
            return found
        col = self.column(word)
        return lambda r: r.get(col)

    def in_function(self) -> Predicate:
        self.take("(")
        self.take("PropertyName")
        self.take("=")
        col = self.column(str(self.literal()))
        self.take(",")
        self.take("PropertyValues")
        self.take("=")
        self.take("[")
        values: set[Any] = set()
        while True:
            values.add(_fold(self.literal()))
            if self.take()[1] == "]":
                break
        self.take(")")
        return lambda r: _fold(r.get(col)) in values


def _comparable(stored: Any, literal: Any) -> Any:
    """A stored ISO timestamp compared with a date literal as a date."""
    if isinstance(literal, datetime) and isinstance(stored, str):
        try:
            return datetime.fromisoformat(stored.replace("Z", "+00:00"))
        except ValueError:
            return stored
    return stored


def parse_filter(text: str, columns: Iterable[str], navigate: Navigate | None = None) -> Predicate:
    """``$filter`` as a predicate over records; ``QueryError`` for what Dataverse would refuse. ``navigate``
    reads ``nav/column`` paths (single-valued navigation properties), None where there are none."""
    return _Parser(text, set(columns), navigate).parse()


def select(record: Record, columns: list[str] | None, known: Iterable[str], primary: str) -> Record:
    """The record with only ``columns`` (and its primary id, always returned); unknown columns refused."""
    if not columns:
        return dict(record)
    known_set = set(known)
    out: Record = {primary: record.get(primary)}
    for col in columns:
        key = col if col in known_set else f"_{col}_value" if f"_{col}_value" in known_set else None
        if key is None:
            raise QueryError(f"Could not find a property named '{col}' on type 'Microsoft.Dynamics.CRM'.")
        out[key] = record.get(key)
    return out


def order_by(records: list[Record], spec: str, columns: Iterable[str]) -> list[Record]:
    known = set(columns)
    for part in reversed([p.strip() for p in spec.split(",") if p.strip()]):
        name, _, direction = part.partition(" ")
        if name not in known:
            raise QueryError(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM'.")
        descending = direction.strip().lower() == "desc"
        records = sorted(records, key=lambda r: (r.get(name) is None, _fold(r.get(name) or "")), reverse=descending)
    return records


@dataclass(frozen=True, slots=True)
class Fetch:
    """A parsed FetchXML query: the entity, its attributes, a predicate, the page asked for."""

    entity: str
    attributes: tuple[str, ...]
    predicate: Predicate
    page: int
    count: int | None
    order: tuple[tuple[str, bool], ...]


_FETCH_OPS: dict[str, Callable[[Any, list[Any]], bool]] = {
    "eq": lambda v, a: _compare("eq", v, a[0]),
    "ne": lambda v, a: _compare("ne", v, a[0]),
    "gt": lambda v, a: _compare("gt", v, a[0]),
    "ge": lambda v, a: _compare("ge", v, a[0]),
    "lt": lambda v, a: _compare("lt", v, a[0]),
    "le": lambda v, a: _compare("le", v, a[0]),
    "null": lambda v, a: v is None,
    "not-null": lambda v, a: v is not None,
    "in": lambda v, a: _fold(v) in {_fold(x) for x in a},
    "like": lambda v, a: isinstance(v, str) and _like(a[0]).fullmatch(v) is not None,
    "not-like": lambda v, a: not (isinstance(v, str) and _like(a[0]).fullmatch(v) is not None),
}


def _like(pattern: Any) -> re.Pattern[str]:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(pattern)]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _typed(raw: str) -> Any:
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return raw


def parse_fetch(xml: str, columns_of: Callable[[str], set[str]]) -> Fetch:
    """A FetchXML query; ``QueryError`` for XML Dataverse would refuse (unknown entity or attribute)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise QueryError(f"Invalid XML: {exc}", "0x80041102") from exc
    entity = root.find("entity") if root.tag == "fetch" else None
    if entity is None or not entity.get("name"):
        raise QueryError("FetchXml must have a fetch element with one entity.", "0x80041102")
    name = str(entity.get("name"))
    if entity.find(".//link-entity") is not None or root.get("aggregate") == "true":
        # Dynamics evaluates these; this emulator does not, and would rather say so than answer wrongly.
        raise QueryError("The sandbox does not evaluate link-entity or aggregate FetchXML.", "0x80041102")
    columns = columns_of(name)
    if not columns:
        raise QueryError(f"The entity with a name = '{name}' was not found in the MetadataCache.", "0x80041102")

    def column(attr: str | None) -> str:
        if attr in columns:
            return str(attr)
        if attr and f"_{attr}_value" in columns:
            return f"_{attr}_value"
        raise QueryError(f"'{name}' entity doesn't contain attribute with Name = '{attr}'.", "0x80041103")

    def group(element: ET.Element) -> Predicate:
        parts: list[Predicate] = []
        for child in element:
            if child.tag == "filter":
                parts.append(group(child))
            elif child.tag == "condition":
                col, op = column(child.get("attribute")), child.get("operator") or "eq"
                if op not in _FETCH_OPS:
                    raise QueryError(f"The condition operator '{op}' is not supported here.", "0x80041103")
                args = [_typed(v.text or "") for v in child.findall("value")] or [_typed(child.get("value") or "")]
                test = _FETCH_OPS[op]
                parts.append(lambda r, c=col, t=test, a=args: t(r.get(c), a))  # type: ignore[misc]
        if element.get("type", "and") == "or":
            return lambda r: any(p(r) for p in parts) if parts else True
        return lambda r: all(p(r) for p in parts)

    top = ET.Element("filter", {"type": "and"})
    top.extend(entity.findall("filter"))  # an entity with no filter selects every row
    predicate = group(top)
    attributes = tuple(column(a.get("name")) for a in entity.findall("attribute"))
    order = tuple((column(o.get("attribute")), o.get("descending") == "true") for o in entity.findall("order"))
    page = int(root.get("page") or 1)
    raw_count = root.get("count")
    count = int(raw_count) if raw_count else None
    return Fetch(name, attributes, predicate, page, count, order)
