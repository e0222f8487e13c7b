"""Bind a parsed SOQL query to the org's schema, run it, and shape its rows for REST (JSON) or Bulk (CSV).

Binding resolves every field path (``Contact.Email`` follows CampaignMember.ContactId), checks each
literal against its field's type the way Salesforce does (a quoted datetime is refused) and compiles the
WHERE clause into one Python predicate. Running it picks candidates from an equality index when the
WHERE clause allows (``CampaignId = '701…'``, ``Email IN (…)``), so a page of a large campaign never
scans the whole table; the filtered, sorted rows are computed once per query and sliced by the caller.

A parent-to-child subquery (``(SELECT Label FROM CampaignMemberStatuses)``) is bound against the child
object and run per parent row as the row is rendered: REST shows it as a nested query result named by
the relationship, ``null`` when the parent has no such children, as Salesforce does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .ids import to_18
from .schema import NUMBER_TYPES, ChildRelationship, FieldDef, ObjectDef, child_relationship, object_def
from .soql import Comparison, Condition, Junction, Literal, Negation, Path, Query, parse
from .store import Record, Store
from .values import to_csv, to_json

Getter = Callable[[Record], Any]
Predicate = Callable[[Record], bool]


def invalid_field(message: str) -> ApiError:
    return ApiError(400, "INVALID_FIELD", message)


@dataclass(frozen=True, slots=True)
class BoundField:
    """A resolved field path: ``keys`` are canonical names (relationships, then the field)."""

    keys: tuple[str, ...]
    field: FieldDef
    owner: ObjectDef  # the object the final field belongs to
    get: Getter

    @property
    def header(self) -> str:
        return ".".join(self.keys)


@dataclass(slots=True)
class BoundQuery:
    obj: ObjectDef
    fields: list[BoundField]
    count: bool
    predicate: Predicate | None
    candidates: Callable[[], Iterable[Record]]
    sort: Callable[[list[Record]], None]
    limit: int | None
    _store: Store
    children: list[BoundChild]  # parent-to-child subqueries

    def run(self, *, include_deleted: bool, among: Iterable[Record] | None = None) -> list[Record]:
        """The matching rows (of ``among`` when given, else of the query's candidates), filtered, sorted
        and limited."""
        predicate = self.predicate
        rows = [
            r
            for r in (self.candidates() if among is None else among)
            if (include_deleted or not r["IsDeleted"]) and (predicate is None or predicate(r))
        ]
        self.sort(rows)
        return rows if self.limit is None else rows[: self.limit]

    def to_json(self, rec: Record, version: str) -> dict[str, Any]:
        """One record as the REST query resource returns it: attributes, then fields, relationships nested."""
        out = _attributes(self.obj, rec, version)
        for bound in self.fields:
            target: dict[str, Any] | None = out
            current_obj, current = self.obj, rec
            for key in bound.keys[:-1]:
                assert target is not None
                relation = current_obj.relationship(key)
                assert relation is not None
                assert relation.reference_to is not None
                related_obj = object_def(relation.reference_to)
                assert related_obj is not None
                related = self._store.live(related_obj.name, current.get(relation.name))
                if key not in target:
                    target[key] = _attributes(related_obj, related, version) if related is not None else None
                if related is None:
                    target = None
                    break
                target, current_obj, current = target[key], related_obj, related
            if target is not None:
                target[bound.keys[-1]] = to_json(bound.get(rec))
        for child in self.children:
            rows = child.rows(rec)
            out[child.relationship.name] = (
                {"totalSize": len(rows), "done": True, "records": [child.query.to_json(r, version) for r in rows]}
                if rows
                else None
            )
        return out

    def csv_header(self) -> list[str]:
        return [b.header for b in self.fields]

    def to_csv(self, rec: Record) -> list[str]:
        return [to_csv(b.get(rec)) for b in self.fields]


@dataclass(slots=True)
class BoundChild:
    """A subquery: ``query`` bound against the child object, run over one parent's children at a time."""

    relationship: ChildRelationship
    query: BoundQuery
    _store: Store

    def rows(self, parent: Record) -> list[Record]:
        """The parent's live children that the subquery selects, sorted and limited."""
        child, link = self.relationship.child, self.relationship.field
        table = self._store.tables[child]
        if self._store.is_indexed(child, link):
            among: Iterable[Record] = (table[i] for i in self._store.lookup(child, link, parent["Id"]))
        else:
            among = (r for r in table.values() if r.get(link) == parent["Id"])
        return self.query.run(include_deleted=False, among=among)


def _attributes(obj: ObjectDef, rec: Record, version: str) -> dict[str, Any]:
    return {"attributes": {"type": obj.name, "url": f"/services/data/v{version}/sobjects/{obj.name}/{rec['Id']}"}}


def compile_query(store: Store, text: str) -> BoundQuery:
    """Parse and bind ``text``; raise ``ApiError`` (MALFORMED_QUERY, INVALID_TYPE, INVALID_FIELD…)."""
    return _Binder(store, parse(text)).bind()


class _Binder:
    def __init__(self, store: Store, query: Query, obj: ObjectDef | None = None) -> None:
        self.store = store
        self.query = query
        obj = obj or object_def(query.sobject)
        if obj is None:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom object, "
                "be sure to append the '__c' after the entity name. Please reference your WSDL or the describe "
                "call for the appropriate names.",
            )
        self.obj = obj

    def bind(self) -> BoundQuery:
        q = self.query
        fields = [self.resolve(p) for p in q.fields]
        predicate = self.condition(q.where) if q.where is not None else None
        orders = [(self.resolve(o.path), o.descending, o.nulls_first) for o in q.order_by]
        children = [self.child(sub) for sub in q.subqueries]
        return BoundQuery(
            self.obj, fields, q.count, predicate, self.plan(q.where), _sorter(orders), q.limit, self.store, children
        )

    def child(self, sub: Query) -> BoundChild:
        """Bind a subquery whose FROM names a child relationship of this query's object."""
        relationship = child_relationship(self.obj, sub.sobject)
        if relationship is None:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom relationship name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        child_obj = object_def(relationship.child)
        assert child_obj is not None
        return BoundChild(relationship, _Binder(self.store, sub, child_obj).bind(), self.store)

    # ---- paths -------------------------------------------------------------------------------------

    def resolve(self, path: Path) -> BoundField:
        names = list(path.names)
        obj = self.obj
        if len(names) > 1 and names[0].lower() == obj.name.lower() and obj.relationship(names[0]) is None:
            names = names[1:]  # "SELECT Contact.Email FROM Contact" names the root object first
        keys: list[str] = []
        hops: list[tuple[str, str]] = []  # (reference field, target object)
        for name in names[:-1]:
            relation = obj.relationship(name)
            if relation is None or relation.reference_to is None:
                raise invalid_field(
                    f"Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
                    "relationship, be sure to append the '__r' after the custom relationship name. Please "
                    "reference your WSDL or the describe call for the appropriate names."
                )
            target = object_def(relation.reference_to)
            assert target is not None
            keys.append(relation.relationship_name or name)
            hops.append((relation.name, target.name))
            obj = target
        field = obj.field(names[-1])
        if field is None:
            raise invalid_field(
                f"No such column '{names[-1]}' on entity '{obj.name}'. If you are attempting to use a custom field, "
                "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
                "describe call for the appropriate names."
            )
        keys.append(field.name)
        get = self.store.accessor(obj, field)
        for ref_field, target_name in reversed(hops):
            get = _follow(self.store, ref_field, target_name, get)
        return BoundField(tuple(keys), field, obj, get)

    # ---- WHERE -------------------------------------------------------------------------------------

    def condition(self, node: Condition) -> Predicate:
        if isinstance(node, Junction):
            parts = [self.condition(item) for item in node.items]
            if node.op == "AND":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(node, Negation):
            inner = self.condition(node.item)
            return lambda r: not inner(r)
        return self.comparison(node)

    def comparison(self, node: Comparison) -> Predicate:
        bound = self.resolve(node.path)
        field, get, op = bound.field, bound.get, node.op
        if op in ("IN", "NOT IN"):
            assert isinstance(node.value, tuple)
            values = [self.literal(field, v) for v in node.value]
            with_null = any(v is None for v in values)
            keys = {_fold(field, v) for v in values if v is not None}
            if op == "IN":
                return lambda r: _in(get(r), field, keys, with_null)
            return lambda r: not _in(get(r), field, keys, with_null)
        assert isinstance(node.value, Literal)
        if op == "LIKE":
            if not field.is_text and not field.is_id:
                raise invalid_field(f"invalid operator on field '{field.name}': LIKE applies to text fields")
            pattern = re.compile(node.value.like or "", re.IGNORECASE | re.DOTALL)
            return lambda r: (v := get(r)) is not None and pattern.fullmatch(v) is not None
        value = self.literal(field, node.value)
        if field.type == "boolean" and op not in ("=", "!="):
            raise invalid_field(f"invalid operator on boolean field '{field.name}': {op}")
        if value is None:
            if op == "=":
                return lambda r: get(r) is None
            if op == "!=":
                return lambda r: get(r) is not None
            return lambda r: False
        key = _fold(field, value)
        text = field.is_text
        if op == "=":
            if text:
                return lambda r: (v := get(r)) is not None and v.casefold() == key
            return lambda r: get(r) == key
        if op == "!=":
            if text:
                return lambda r: (v := get(r)) is None or v.casefold() != key
            return lambda r: get(r) != key
        compare = _ORDERING[op]
        if text:
            return lambda r: (v := get(r)) is not None and compare(v.casefold(), key)
        return lambda r: (v := get(r)) is not None and compare(v, key)

    def literal(self, field: FieldDef, literal: Literal) -> Any:
        """The literal's value for comparing with ``field``; refuse what SOQL refuses for that type."""
        if literal.kind == "null":
            return None
        kind = field.type
        expected = (
            "string"
            if field.is_text or field.is_id
            else "number"
            if kind in NUMBER_TYPES
            else kind
            if kind in ("boolean", "date", "datetime")
            else "string"
        )
        if literal.kind != expected:
            quoted = " and should not be enclosed in quotes" if literal.kind == "string" else ""
            raise invalid_field(
                f"value of filter criterion for field '{field.name}' must be of type {_TYPE_NAMES[kind]}{quoted}"
            )
        if field.is_id:
            normal = to_18(literal.value)
            if normal is None:
                raise ApiError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}")
            return normal
        return literal.value

    # ---- candidates --------------------------------------------------------------------------------

    def plan(self, where: Condition | None) -> Callable[[], Iterable[Record]]:
        """Where to look: the smallest index buckets an equality term names, else the whole table."""
        table = self.store.tables[self.obj.name]
        terms: tuple[Condition, ...] = ()
        if isinstance(where, Comparison):
            terms = (where,)
        elif isinstance(where, Junction) and where.op == "AND":
            terms = where.items
        best: list[tuple[str, Any]] | None = None  # (indexed field, value) pairs whose buckets cover the term
        for term in terms:
            if not isinstance(term, Comparison) or len(term.path.names) != 1 or term.op not in ("=", "IN"):
                continue
            field = self.obj.field(term.path.names[0])
            if field is None:
                continue
            indexed = _INDEX_ALIASES.get((self.obj.name, field.name), (field.name,))
            if not all(self.store.is_indexed(self.obj.name, name) for name in indexed):
                continue
            literals = term.value if isinstance(term.value, tuple) else (term.value,)
            values = [self.literal(field, lit) for lit in literals]
            if any(v is None for v in values):
                continue
            keys = [(name, v) for name in indexed for v in values]
            if best is None or self._size(keys) < self._size(best):
                best = keys
        if best is None:
            return lambda: list(table.values())
        chosen = best

        def from_index() -> list[Record]:
            if len(chosen) == 1:
                return [table[i] for i in self.store.lookup(self.obj.name, *chosen[0])]
            ids: set[str] = set()
            for name, value in chosen:
                ids.update(self.store.lookup(self.obj.name, name, value))
            return [table[i] for i in sorted(ids)]  # ids sort in creation order

        return from_index

    def _size(self, keys: list[tuple[str, Any]]) -> int:
        return sum(self.store.count(self.obj.name, name, value) for name, value in keys)


# Computed fields answered from the indexes of the stored fields they are made of.
_INDEX_ALIASES = {("CampaignMember", "LeadOrContactId"): ("ContactId", "LeadId")}

_TYPE_NAMES = {
    "date": "date",
    "datetime": "dateTime",
    "boolean": "boolean",
    "currency": "currency",
    "double": "double",
    "int": "int",
    "percent": "percent",
}
_TYPE_NAMES.update({k: "string" for k in ("string", "email", "picklist", "textarea", "phone", "url")})
_TYPE_NAMES.update({"id": "id", "reference": "reference"})

_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _fold(field: FieldDef, value: Any) -> Any:
    return value.casefold() if field.is_text and isinstance(value, str) else value


def _in(value: Any, field: FieldDef, keys: set[Any], with_null: bool) -> bool:
    if value is None:
        return with_null
    return _fold(field, value) in keys


def _follow(store: Store, ref_field: str, target: str, inner: Getter) -> Getter:
    table = store.tables[target]

    def get(rec: Record) -> Any:
        ref = rec.get(ref_field)
        if ref is None:
            return None
        related = table.get(ref)
        if related is None or related["IsDeleted"]:
            return None
        return inner(related)

    return get


def _sorter(orders: list[tuple[BoundField, bool, bool]]) -> Callable[[list[Record]], None]:
    def sort(rows: list[Record]) -> None:
        # stable sorts from the last key to the first give a multi-key sort with mixed directions
        for bound, descending, nulls_first in reversed(orders):
            null_rank = 0 if nulls_first != descending else 2
            get, text = bound.get, bound.field.is_text

            def key(r: Record, get: Getter = get, text: bool = text, null_rank: int = null_rank) -> tuple[Any, ...]:
                v = get(r)
                if v is None:
                    return (null_rank,)
                return (1, v.casefold() if text else v)

            rows.sort(key=key, reverse=descending)

    return sort
