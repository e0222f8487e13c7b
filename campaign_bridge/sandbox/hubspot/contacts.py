"""The portal's contacts: records, the email index, id-ordered paging and the SimplePublicObject shape.

Not thread-safe on its own: ``HubSpotState`` holds its lock around every call. Values handed to
``create``/``update`` are already normalised (``values.stored_value``); API-side validation happens in the
route handlers, so seeding from Python can skip it.
"""

from __future__ import annotations

import bisect
import gc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from campaign_bridge.sandbox.hubspot.values import (
    ALWAYS_RETURNED,
    BOOL,
    CONTACT_PROPERTIES,
    DATETIME,
    DEFAULT_PROPERTIES,
    STRING,
    iso_ms,
    parse_time_ms,
    stored_value,
)

#: Properties the store computes from the record instead of keeping them in ``properties``.
COMPUTED = frozenset({"hs_object_id", "createdate", "lastmodifieddate"})
_CONVERTED = frozenset({DATETIME, BOOL})  # the kinds whose stored form is not just str(value)


@dataclass(slots=True)
class Contact:
    id: int
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    archived_ms: int | None = None

    @property
    def archived(self) -> bool:
        return self.archived_ms is not None


class ContactStore:
    """Contacts by id (ascending, append-only ids) with a case-insensitive email index."""

    def __init__(self) -> None:
        self.schema: dict[str, str] = dict(CONTACT_PROPERTIES)
        self.version = 0  # bumped on every change; search caches key on it
        self._by_id: dict[int, Contact] = {}
        self._order: list[int] = []
        self._by_email: dict[str, int] = {}
        self._next_id = 1

    def __len__(self) -> int:
        return len(self._by_id)

    # ---- reading -------------------------------------------------------------------------------
    def get(self, contact_id: str | int, *, archived: bool = False) -> Contact | None:
        try:
            contact = self._by_id.get(int(contact_id))
        except (TypeError, ValueError):
            return None
        if contact is None or contact.archived != archived:
            return None
        return contact

    def by_email(self, email: str) -> Contact | None:
        found = self._by_email.get(email.strip().lower())
        return None if found is None else self._by_id[found]

    def lookup(self, key: str, id_property: str | None) -> Contact | None:
        """A live contact by id, or by email when ``id_property`` is ``"email"``."""
        if id_property == "email":
            return self.by_email(key)
        if id_property not in (None, "", "hs_object_id"):
            return None
        return self.get(key)

    def all(self) -> Iterable[Contact]:
        return self._by_id.values()

    def value(self, contact: Contact, name: str) -> str | None:
        """The stored string of a property, ``None`` when unset (HubSpot treats ``""`` as unset)."""
        if name in COMPUTED:
            if name == "hs_object_id":
                return str(contact.id)
            return iso_ms(contact.created_ms if name == "createdate" else contact.updated_ms)
        return contact.properties.get(name) or None

    def page(self, after: str | None, limit: int, *, archived: bool = False) -> tuple[list[Contact], str | None]:
        """Up to ``limit`` contacts with id >= ``after`` in id order, and the next cursor (or ``None``)."""
        start = bisect.bisect_left(self._order, int(after)) if after else 0
        found: list[Contact] = []
        for position in range(start, len(self._order)):
            contact = self._by_id.get(self._order[position])
            if contact is None or contact.archived != archived:
                continue
            if len(found) == limit:
                return found, str(contact.id)
            found.append(contact)
        return found, None

    # ---- writing -------------------------------------------------------------------------------
    def normalise(self, properties: Mapping[str, object], *, define: bool) -> dict[str, str]:
        """Stored strings for ``properties``; with ``define``, unknown names become string properties."""
        result: dict[str, str] = {}
        for name, raw in properties.items():
            kind = self.schema.get(name)
            if kind is None:
                if not define:
                    raise KeyError(name)
                kind = self.schema[name] = STRING
            result[name] = "" if raw is None else stored_value(kind, raw)
        return result

    def create(self, properties: dict[str, str], now_ms: int) -> Contact:
        """Add a contact from normalised values; ``createdate``/``lastmodifieddate`` in them override now."""
        created = _take_time(properties, "createdate", now_ms)
        updated = _take_time(properties, "lastmodifieddate", max(now_ms, created))
        properties.pop("hs_object_id", None)
        contact = Contact(self._next_id, properties, created, updated)
        self._next_id += 1
        self._by_id[contact.id] = contact
        self._order.append(contact.id)
        email = properties.get("email")
        if email:
            self._by_email[email.lower()] = contact.id
        self.version += 1
        return contact

    def bulk_create(self, rows: Iterable[tuple[str, Mapping[str, object]]], now_ms: int) -> list[str]:
        """Fast seeding: no validation beyond normalising values; later duplicates win the email index."""
        # Millions of small dicts would trigger the cyclic GC over and over; none of them form cycles.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._bulk_create(rows, now_ms)
        finally:
            if was_enabled:
                gc.enable()

    def _bulk_create(self, rows: Iterable[tuple[str, Mapping[str, object]]], now_ms: int) -> list[str]:
        first = self._next_id
        schema, by_id, order, by_email = self.schema, self._by_id, self._order, self._by_email
        next_id = first
        for email, extra in rows:
            props: dict[str, str] = {"email": email}
            for name, raw in extra.items():
                kind = schema.get(name)
                if kind is None:
                    kind = schema[name] = STRING
                props[name] = "" if raw is None else (stored_value(kind, raw) if kind in _CONVERTED else str(raw))
            if "createdate" in props or "lastmodifieddate" in props or "hs_object_id" in props:
                self._next_id = next_id
                next_id = self.create(props, now_ms).id + 1
                continue
            by_id[next_id] = Contact(next_id, props, now_ms, now_ms)
            order.append(next_id)
            if email:
                by_email[email.lower()] = next_id
            next_id += 1
        self._next_id = next_id
        self.version += 1
        return [str(i) for i in range(first, next_id)]

    def update(self, contact: Contact, properties: Mapping[str, str], now_ms: int) -> None:
        """Apply normalised values (``""`` clears) and move ``lastmodifieddate`` to now."""
        if "email" in properties:
            old = contact.properties.get("email")
            if old:
                self._by_email.pop(old.lower(), None)
            if properties["email"]:
                self._by_email[properties["email"].lower()] = contact.id
        for name, value in properties.items():
            if name in COMPUTED:
                if name == "createdate" and value:
                    contact.created_ms = parse_time_ms(value) or contact.created_ms
                continue
            if value == "":
                contact.properties.pop(name, None)
            else:
                contact.properties[name] = value
        contact.updated_ms = max(now_ms, contact.updated_ms)
        self.version += 1

    def archive(self, contact: Contact, now_ms: int) -> None:
        email = contact.properties.get("email")
        if email and self._by_email.get(email.lower()) == contact.id:
            del self._by_email[email.lower()]
        contact.archived_ms = now_ms
        self.version += 1

    # ---- rendering -----------------------------------------------------------------------------
    def render(self, contact: Contact, names: Sequence[str] | None) -> dict[str, Any]:
        """The SimplePublicObject HubSpot returns: requested (or default) properties plus the always-on ones;
        requested names without a value come back as ``null``, unknown names are left out."""
        wanted = names or DEFAULT_PROPERTIES
        props: dict[str, str | None] = {}
        for name in (*wanted, *ALWAYS_RETURNED):
            if name not in props and name in self.schema:
                props[name] = self.value(contact, name)
        body: dict[str, Any] = {
            "id": str(contact.id),
            "properties": props,
            "createdAt": iso_ms(contact.created_ms),
            "updatedAt": iso_ms(contact.updated_ms),
            "archived": contact.archived,
        }
        if contact.archived_ms is not None:
            body["archivedAt"] = iso_ms(contact.archived_ms)
        return body


def _take_time(properties: dict[str, str], name: str, default: int) -> int:
    raw = properties.pop(name, None)
    parsed = parse_time_ms(raw) if raw else None
    return default if parsed is None else parsed
