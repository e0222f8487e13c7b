"""The portal's lists (ILS lists, v3): definitions, memberships, paging and the PublicObjectList shape.

Memberships are a dict ``recordId -> membership ms`` per list (insertion order = join order); the
recordId-ordered view is sorted once after a change and paged with bisect. A DYNAMIC list is evaluated
lazily, on read, when contacts changed since its last evaluation, from its Python predicate or its
``filterBranch`` (see ``filters.py``); when neither applies it keeps the members seeding gave it.
Not thread-safe on its own: ``HubSpotState`` holds its lock around every call.

Every membership change (an add or remove through the API, a DYNAMIC list's re-evaluation, seeding, and
HubSpot's clean-up of deleted contacts, ``drop_archived``) moves the list's ``hs_last_record_added_at`` or
``hs_last_record_removed_at``; a request that changes nothing moves neither.
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from campaign_bridge.sandbox.hubspot.contacts import Contact, ContactStore
from campaign_bridge.sandbox.hubspot.filters import compile_branch
from campaign_bridge.sandbox.hubspot.values import iso_ms

PROCESSING_TYPES = ("MANUAL", "SNAPSHOT", "DYNAMIC")
CONTACT_OBJECT_TYPE = "0-1"
OWNER_ID = "1"  # the portal's single user, as createdById/updatedById
#: What every lists search (and list GET) returns in ``additionalProperties`` unasked [D: "By default, all
#: requests will fetch the following properties for each list: hs_list_size, hs_last_record_added_at,
#: hs_last_record_removed_at, hs_folder_name, and hs_list_reference_count"].
DEFAULT_PROPERTIES = (
    "hs_list_size",
    "hs_last_record_added_at",
    "hs_last_record_removed_at",
    "hs_folder_name",
    "hs_list_reference_count",
)


@dataclass(slots=True)
class HubList:
    id: int
    name: str
    processing_type: str
    created_ms: int
    updated_ms: int
    filter_branch: dict[str, Any] | None = None
    predicate: Callable[[Contact], bool] | None = None
    members: dict[int, int] = field(default_factory=dict)
    version: int = 1
    deleted_ms: int | None = None
    last_added_ms: int | None = None
    last_removed_ms: int | None = None
    evaluated_version: int = -1
    _ordered: list[int] | None = None  # members by recordId, rebuilt after a change
    _joined: list[int] | None = None  # members in join order, rebuilt after a change

    @property
    def writable(self) -> bool:
        return self.processing_type in ("MANUAL", "SNAPSHOT")

    def ordered(self) -> list[int]:
        if self._ordered is None:
            self._ordered = sorted(self.members)
        return self._ordered

    def joined(self) -> list[int]:
        if self._joined is None:
            self._joined = list(self.members)
        return self._joined

    def changed(self) -> None:
        self._ordered = self._joined = None

    def render(self, *, include_filters: bool = False, with_size: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "listId": str(self.id),
            "listVersion": self.version,
            "name": self.name,
            "objectTypeId": CONTACT_OBJECT_TYPE,
            "processingType": self.processing_type,
            "processingStatus": "COMPLETE",
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.updated_ms),
            "filtersUpdatedAt": iso_ms(self.created_ms),
            "createdById": OWNER_ID,
            "updatedById": OWNER_ID,
        }
        if with_size:
            body["size"] = len(self.members)
        if self.deleted_ms is not None:
            body["deletedAt"] = iso_ms(self.deleted_ms)
        if include_filters and self.filter_branch is not None:
            body["filterBranch"] = self.filter_branch
        return body


class ListStore:
    def __init__(self, contacts: ContactStore) -> None:
        self.contacts = contacts
        self._lists: dict[int, HubList] = {}
        self._next_id = 1

    def create(
        self,
        name: str,
        processing_type: str,
        now_ms: int,
        *,
        filter_branch: dict[str, Any] | None = None,
        predicate: Callable[[Contact], bool] | None = None,
    ) -> HubList:
        if processing_type not in PROCESSING_TYPES:
            raise ValueError(f"processing_type must be one of {PROCESSING_TYPES}, not {processing_type!r}")
        hub_list = HubList(self._next_id, name, processing_type, now_ms, now_ms, filter_branch, predicate)
        self._next_id += 1
        self._lists[hub_list.id] = hub_list
        return hub_list

    def get(self, list_id: str | int, now_ms: int) -> HubList | None:
        try:
            hub_list = self._lists.get(int(list_id))
        except (TypeError, ValueError):
            return None
        if hub_list is None or hub_list.deleted_ms is not None:
            return None
        self.refresh(hub_list, now_ms)
        return hub_list

    def by_name(self, name: str, now_ms: int) -> HubList | None:
        wanted = name.casefold()
        for hub_list in self.live():
            if hub_list.name.casefold() == wanted:
                self.refresh(hub_list, now_ms)
                return hub_list
        return None

    def live(self) -> Iterable[HubList]:
        return [item for item in self._lists.values() if item.deleted_ms is None]

    def delete(self, hub_list: HubList, now_ms: int) -> None:
        hub_list.deleted_ms = now_ms

    def refresh(self, hub_list: HubList, now_ms: int) -> None:
        """Re-evaluate a DYNAMIC list whose contacts changed since it was last evaluated."""
        if hub_list.processing_type != "DYNAMIC" or hub_list.evaluated_version == self.contacts.version:
            return
        predicate = hub_list.predicate or compile_branch(hub_list.filter_branch, self.contacts)
        hub_list.evaluated_version = self.contacts.version
        if predicate is None:
            return
        matching = {c.id for c in self.contacts.all() if not c.archived and predicate(c)}
        gone = [record for record in hub_list.members if record not in matching]
        fresh = [record for record in matching if record not in hub_list.members]
        self._apply(hub_list, fresh, gone, now_ms)

    # ---- membership changes --------------------------------------------------------------------
    def change(self, hub_list: HubList, add: Iterable[str], remove: Iterable[str], now_ms: int) -> dict[str, list[str]]:
        """Add and remove record ids as the memberships endpoints do: unknown records are reported
        missing; records already in (or already out of) the list are ignored. Returns the
        MembershipsUpdateResponse body (with HubSpot's own key spelling ``recordsIdsAdded``)."""
        missing: list[str] = []
        to_add: dict[int, None] = {}  # ordered sets: the response lists ids in request order
        to_remove: dict[int, None] = {}
        for raw in add:
            contact = self.contacts.get(raw)
            if contact is None:
                missing.append(str(raw))
            elif contact.id not in hub_list.members:
                to_add[contact.id] = None
        for raw in remove:
            contact = self.contacts.get(raw)
            if contact is None:
                missing.append(str(raw))
            elif contact.id in hub_list.members:
                to_remove[contact.id] = None
        self._apply(hub_list, to_add, to_remove, now_ms)
        return {
            "recordIdsRemoved": [str(r) for r in to_remove],
            "recordsIdsAdded": [str(r) for r in to_add],
            "recordIdsMissing": missing,
        }

    def seed(self, hub_list: HubList, record_ids: Iterable[int], now_ms: int) -> None:
        """Add members without checks (fast seeding; any processing type)."""
        members, before = hub_list.members, len(hub_list.members)
        for record in record_ids:
            members.setdefault(record, now_ms)
        if len(members) != before:
            hub_list.changed()
            hub_list.last_added_ms = now_ms

    def drop_archived(self, now_ms: int) -> None:
        """HubSpot's clean-up after contacts are deleted: every list loses its archived members (which
        moves its size and ``hs_last_record_removed_at``). HubSpot runs it on its own schedule [U: when
        exactly is not documented]; until then a deleted contact stays a member."""
        for hub_list in self.live():
            gone = [record for record in hub_list.members if self.contacts.get(record) is None]
            self._apply(hub_list, [], gone, now_ms)

    def _apply(self, hub_list: HubList, add: Iterable[int], remove: Iterable[int], now_ms: int) -> None:
        changed = False
        for record in remove:
            del hub_list.members[record]
            hub_list.last_removed_ms, changed = now_ms, True
        for record in add:
            hub_list.members[record] = now_ms
            hub_list.last_added_ms, changed = now_ms, True
        if changed:
            hub_list.changed()
            hub_list.updated_ms = now_ms

    # ---- reading memberships -------------------------------------------------------------------
    def page(
        self, hub_list: HubList, *, after: str | None, before: str | None, limit: int, join_order: bool
    ) -> tuple[list[tuple[int, int]], str | None, str | None]:
        """A page of ``(recordId, membership ms)``, the ``after`` cursor of the next page and the ``before``
        cursor of the previous one. Cursors are opaque; a bad one raises ValueError."""
        keys = hub_list.joined() if join_order else hub_list.ordered()
        if join_order:  # positions in join order
            start = decode_cursor(after) if after else 0
            if before:
                start = max(0, decode_cursor(before) - limit)
        elif after:
            start = bisect.bisect_right(keys, decode_cursor(after))
        elif before:
            start = max(0, bisect.bisect_left(keys, decode_cursor(before)) - limit)
        else:
            start = 0
        chosen = keys[start : start + limit]
        rows = [(record, hub_list.members[record]) for record in chosen]
        more = start + limit < len(keys)
        if join_order:
            return rows, encode_cursor(start + limit) if more else None, encode_cursor(start) if start else None
        next_cursor = encode_cursor(chosen[-1]) if more and chosen else None
        prev_cursor = encode_cursor(chosen[0]) if start and chosen else None
        return rows, next_cursor, prev_cursor

    def record_memberships(self, record_id: int, now_ms: int) -> list[dict[str, Any]]:
        rows = []
        for hub_list in self.live():
            self.refresh(hub_list, now_ms)
            joined = hub_list.members.get(record_id)
            if joined is not None:
                stamp = iso_ms(joined)
                rows.append(
                    {
                        "listId": str(hub_list.id),
                        "listVersion": hub_list.version,
                        "firstAddedTimestamp": stamp,
                        "lastAddedTimestamp": stamp,
                    }
                )
        return rows


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(f"m{value}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> int:
    padded = token + "=" * (-len(token) % 4)
    try:
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid paging cursor {token!r}") from exc
    if not text.startswith("m") or not text[1:].isdigit():
        raise ValueError(f"invalid paging cursor {token!r}")
    return int(text[1:])


def additional_properties(hub_list: HubList, wanted: Iterable[str] = ()) -> dict[str, str]:
    """A list's ``additionalProperties``: HubSpot's defaults (``DEFAULT_PROPERTIES``) plus the ``wanted``
    ones the sandbox knows, as strings; a property that is empty for this list is left out [D: "Properties
    that do not exist or that are empty for a particular list are not included in the response"]."""
    known: dict[str, str] = {
        "hs_list_size": str(len(hub_list.members)),
        "hs_last_record_added_at": str(hub_list.last_added_ms or ""),
        "hs_last_record_removed_at": str(hub_list.last_removed_ms or ""),
        "hs_folder_name": "",  # the sandbox has no list folders
        "hs_list_reference_count": "0",
    }
    return {name: known[name] for name in dict.fromkeys((*DEFAULT_PROPERTIES, *wanted)) if known.get(name)}
