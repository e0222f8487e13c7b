"""Record storage of the emulated org: tables, equality indexes, campaign rollups and an undo journal.

Records are plain dicts keyed by canonical field name holding *stored* fields; computed fields
(``CampaignMember.HasResponded``, ``Type``, ``LeadOrContactId``) come from ``accessor``. Deleting a record
sets ``IsDeleted`` and keeps it (``queryAll`` sees it); indexes keep deleted records too, readers filter.

Every mutation goes through ``insert``/``modify``/``discard``, which keep indexes and rollups right and,
inside ``atomic()``, journal their inverse so an all-or-none request can be undone. Callers hold ``lock``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from .ids import IdFactory
from .schema import INDEXED, OBJECTS, FieldDef, ObjectDef, object_for_id
from .values import truncate_ms, utc_now

Record = dict[str, Any]
Clock = Callable[[], datetime]
_MISSING = object()
_ROLLUP_FIELDS = frozenset({"CampaignId", "LeadId", "ContactId", "Status", "IsDeleted"})


class StatusInfo:
    """One campaign's member statuses, by label: ``responded`` flags and the default label."""

    __slots__ = ("default", "labels", "responded")

    def __init__(self, statuses: Iterable[Record]) -> None:
        ordered = sorted(statuses, key=lambda s: (s.get("SortOrder") or 0, s["Label"]))
        self.labels: list[str] = [s["Label"] for s in ordered]
        self.responded: dict[str, bool] = {s["Label"]: bool(s.get("HasResponded")) for s in ordered}
        defaults = [s["Label"] for s in ordered if s.get("IsDefault")]
        self.default: str | None = defaults[0] if defaults else (self.labels[0] if self.labels else None)


class Undo:
    """Handle yielded by ``Store.atomic``: ``rollback()`` undoes the block's changes, newest first."""

    def __init__(self, store: Store, entries: list[Callable[[], None]]) -> None:
        self._store = store
        self._entries = entries

    def rollback(self) -> None:
        with self._store.lock:
            while self._entries:
                self._entries.pop()()


class Store:
    def __init__(self, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock: Clock = clock or utc_now
        self.ids = IdFactory()
        self.tables: dict[str, dict[str, Record]] = {o.name: {} for o in OBJECTS.values()}
        # index buckets hold one id as a plain str (most emails and people) and several as an ordered dict
        self._indexes: dict[str, dict[str, dict[Any, str | dict[str, None]]]] = {
            name: {f: {} for f in fields} for name, fields in INDEXED.items()
        }
        # text fields match case-insensitively in SOQL, so their index keys are case-folded
        self._folded = {(name, f) for name, fields in INDEXED.items() for f in fields if _is_text(name, f)}
        self._journal: list[Callable[[], None]] | None = None
        self._status_cache: dict[str, StatusInfo] = {}
        self.default_owner: str | None = None  # the User id new records get as OwnerId
        # Who creates records: a person in the org's UI (``person_id``: the tests' and the demo's own edits)
        # unless an API request of the integration user is being served (``acting_as``): new records carry
        # it as CreatedById, which is how campaign-bridge tells its adds from a person's.
        self.person_id: str | None = None
        self._actor = threading.local()

    # ---- reading -----------------------------------------------------------------------------------

    @contextmanager
    def acting_as(self, user_id: str | None) -> Iterator[None]:
        """Records created in this thread meanwhile are created by ``user_id``."""
        before = getattr(self._actor, "user", None)
        self._actor.user = user_id
        try:
            yield
        finally:
            self._actor.user = before

    def actor(self) -> str | None:
        """The user creating records now (an API request's user, else a person)."""
        return getattr(self._actor, "user", None) or self.person_id

    def now(self) -> datetime:
        """The org clock, truncated to milliseconds like every Salesforce timestamp."""
        return truncate_ms(self.clock())

    def record(self, record_id: str) -> tuple[ObjectDef, Record] | None:
        """The object and record an 18-character id names (deleted ones included), or None."""
        obj = object_for_id(record_id)
        if obj is None:
            return None
        rec = self.tables[obj.name].get(record_id)
        return (obj, rec) if rec is not None else None

    def live(self, obj_name: str, record_id: str | None) -> Record | None:
        """The non-deleted record of ``obj_name`` with this id, or None."""
        if record_id is None:
            return None
        rec = self.tables[obj_name].get(record_id)
        return rec if rec is not None and not rec["IsDeleted"] else None

    def is_indexed(self, obj_name: str, field: str) -> bool:
        return field in self._indexes.get(obj_name, {})

    def lookup(self, obj_name: str, field: str, value: Any) -> Collection[str]:
        """Ids (in creation order, deleted included) whose indexed ``field`` equals ``value``."""
        bucket = self._indexes[obj_name][field].get(self._key(obj_name, field, value))
        if bucket is None:
            return ()
        return (bucket,) if isinstance(bucket, str) else tuple(bucket)

    def count(self, obj_name: str, field: str, value: Any) -> int:
        """How many ids ``lookup`` would answer, without copying them."""
        bucket = self._indexes[obj_name][field].get(self._key(obj_name, field, value))
        return 0 if bucket is None else 1 if isinstance(bucket, str) else len(bucket)

    def statuses(self, campaign_id: str) -> StatusInfo:
        info = self._status_cache.get(campaign_id)
        if info is None:
            rows = [
                self.tables["CampaignMemberStatus"][i]
                for i in self.lookup("CampaignMemberStatus", "CampaignId", campaign_id)
            ]
            info = StatusInfo(r for r in rows if not r["IsDeleted"])
            self._status_cache[campaign_id] = info
        return info

    def is_responded(self, campaign_id: str, status: str | None) -> bool:
        return status is not None and self.statuses(campaign_id).responded.get(status, False)

    def accessor(self, obj: ObjectDef, field: FieldDef) -> Callable[[Record], Any]:
        """A function reading ``field`` from a record of ``obj``, computed fields included."""
        name = field.name
        if obj.name == "CampaignMember":
            if name == "LeadOrContactId":
                return lambda r: r.get("ContactId") or r.get("LeadId")
            if name == "Type":
                return lambda r: "Contact" if r.get("ContactId") else "Lead"
            if name == "HasResponded":
                return lambda r: self.is_responded(r["CampaignId"], r.get("Status"))
        if field.type == "boolean":
            return lambda r: bool(r.get(name, False))
        return lambda r: r.get(name)

    # ---- writing -----------------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[Undo]:
        """Journal the changes made in the block; the yielded handle can roll them all back."""
        with self.lock:
            outer = self._journal
            entries: list[Callable[[], None]] = []
            self._journal = entries
            try:
                yield Undo(self, entries)
            finally:
                self._journal = outer
                if outer is not None:
                    outer.extend(entries)

    def insert(self, obj: ObjectDef, values: Record, *, record_id: str | None = None) -> Record:
        """Store a new record of ``obj`` with system fields filled in; no validation (see ``dml``)."""
        now = self.now()
        rec: Record = {
            "Id": record_id or self.ids.new(obj.prefix),
            "IsDeleted": False,
            "CreatedById": self.actor(),
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
        }
        rec.update(values)
        self.tables[obj.name][rec["Id"]] = rec
        self._link(obj, rec, None)
        self._remember(lambda: self._unlink_and_drop(obj, rec))
        return rec

    def insert_many(self, obj: ObjectDef, rows: list[Record]) -> list[str]:
        """The seeding fast path: store ``rows`` (stored fields only; the dicts become the records) as new
        records stamped with one clock reading. Not journaled: call it outside ``atomic()``."""
        now = self.now()
        ids = self.ids.many(obj.prefix, len(rows))
        table = self.tables[obj.name]
        stamps = {
            "IsDeleted": False,
            "CreatedById": self.actor(),
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
        }
        for record_id, rec in zip(ids, rows, strict=True):
            rec.update(stamps)
            rec["Id"] = record_id
        table.update(zip(ids, rows, strict=True))
        for field, index in self._indexes.get(obj.name, {}).items():
            values = [rec.get(field) for rec in rows]
            if (obj.name, field) in self._folded:
                values = [v.casefold() if v is not None else None for v in values]
            _index_many(index, values, ids)
        if obj.name == "CampaignMember":
            tally = Counter(
                zip(
                    [rec["CampaignId"] for rec in rows],
                    [rec.get("ContactId") is not None for rec in rows],
                    [rec.get("Status") for rec in rows],
                    strict=True,
                )
            )
            for (campaign_id, is_contact, status), count in tally.items():
                self._count_member(
                    {"CampaignId": campaign_id, "ContactId": is_contact or None, "Status": status, "IsDeleted": False},
                    count,
                )
        return ids

    def modify(self, obj: ObjectDef, rec: Record, changes: Record, *, touch: bool = True) -> None:
        """Apply ``changes`` to a stored record, stamping LastModifiedDate/SystemModstamp unless ``touch`` is off."""
        if touch:
            now = self.now()
            changes = {**changes, "LastModifiedDate": now, "SystemModstamp": now}
        old = {k: rec.get(k, _MISSING) for k in changes}
        keys = set(changes)
        self._unlink(obj, rec, keys)
        rec.update(changes)
        self._link(obj, rec, keys)

        def undo() -> None:
            self._unlink(obj, rec, keys)
            for k, v in old.items():
                if v is _MISSING:
                    rec.pop(k, None)
                else:
                    rec[k] = v
            self._link(obj, rec, keys)

        self._remember(undo)

    def discard(self, obj: ObjectDef, rec: Record) -> None:
        """Remove a record for good (hard delete): queryAll no longer sees it."""
        self._unlink_and_drop(obj, rec)

        def undo() -> None:
            self.tables[obj.name][rec["Id"]] = rec
            self._link(obj, rec, None)

        self._remember(undo)

    # ---- bookkeeping -------------------------------------------------------------------------------

    def _key(self, obj_name: str, field: str, value: Any) -> Any:
        return value.casefold() if isinstance(value, str) and (obj_name, field) in self._folded else value

    def _remember(self, undo: Callable[[], None]) -> None:
        if self._journal is not None:
            self._journal.append(undo)

    def _unlink_and_drop(self, obj: ObjectDef, rec: Record) -> None:
        self._unlink(obj, rec, None)
        self.tables[obj.name].pop(rec["Id"], None)

    def _link(self, obj: ObjectDef, rec: Record, keys: set[str] | None) -> None:
        self._touch_indexes(obj, rec, keys, add=True)
        self._touch_derived(obj, rec, keys, sign=1)

    def _unlink(self, obj: ObjectDef, rec: Record, keys: set[str] | None) -> None:
        self._touch_indexes(obj, rec, keys, add=False)
        self._touch_derived(obj, rec, keys, sign=-1)

    def _touch_indexes(self, obj: ObjectDef, rec: Record, keys: set[str] | None, *, add: bool) -> None:
        indexes = self._indexes.get(obj.name)
        if not indexes:
            return
        for field, index in indexes.items():
            if keys is not None and field not in keys:
                continue
            value = rec.get(field)
            if value is None:
                continue
            key = self._key(obj.name, field, value)
            if add:
                _bucket_add(index, key, rec["Id"])
            else:
                _bucket_remove(index, key, rec["Id"])

    def _touch_derived(self, obj: ObjectDef, rec: Record, keys: set[str] | None, *, sign: int) -> None:
        if obj.name == "CampaignMember":
            if keys is None or keys & _ROLLUP_FIELDS:
                self._count_member(rec, sign)
        elif obj.name == "CampaignMemberStatus":
            campaign_id = rec["CampaignId"]
            self._status_cache.pop(campaign_id, None)
            if sign > 0 and (keys is None or keys & {"HasResponded", "Label", "IsDeleted"}):
                self._recount_responses(campaign_id)

    def _count_member(self, rec: Record, sign: int) -> None:
        """Add ``sign`` (a count, negative to remove) of members shaped like ``rec`` to campaign rollups."""
        if rec["IsDeleted"]:
            return
        campaign = self.tables["Campaign"].get(rec["CampaignId"])
        if campaign is None:
            return
        field = "NumberOfContacts" if rec.get("ContactId") else "NumberOfLeads"
        campaign[field] = campaign.get(field, 0) + sign
        if self.is_responded(rec["CampaignId"], rec.get("Status")):
            campaign["NumberOfResponses"] = campaign.get("NumberOfResponses", 0) + sign

    def _recount_responses(self, campaign_id: str) -> None:
        campaign = self.tables["Campaign"].get(campaign_id)
        if campaign is None:
            return
        members = self.tables["CampaignMember"]
        responded = self.statuses(campaign_id).responded
        campaign["NumberOfResponses"] = sum(
            1
            for i in self.lookup("CampaignMember", "CampaignId", campaign_id)
            if not members[i]["IsDeleted"] and responded.get(members[i].get("Status") or "", False)
        )


def _index_many(index: dict[Any, str | dict[str, None]], keys: list[Any], ids: list[str]) -> None:
    """Add ``ids`` under their ``keys`` (None: not indexed), at C speed for the two shapes seeding makes:
    every key distinct and new (emails, people), or a handful of keys (one campaign's members)."""
    distinct = set(keys)
    distinct.discard(None)
    if not distinct:
        return
    if len(distinct) == len(keys) and index.keys().isdisjoint(distinct):
        index.update(zip(keys, ids, strict=True))
        return
    if len(distinct) <= 4:
        for key in distinct:
            members = dict.fromkeys(i for v, i in zip(keys, ids, strict=True) if v == key)
            bucket = index.get(key)
            if bucket is not None:
                members = {**({bucket: None} if isinstance(bucket, str) else bucket), **members}
            index[key] = next(iter(members)) if len(members) == 1 else members
        return
    for key, record_id in zip(keys, ids, strict=True):
        if key is not None:
            _bucket_add(index, key, record_id)


def _bucket_add(index: dict[Any, str | dict[str, None]], key: Any, record_id: str) -> None:
    bucket = index.get(key)
    if bucket is None:
        index[key] = record_id
    elif isinstance(bucket, str):
        if bucket != record_id:
            index[key] = {bucket: None, record_id: None}
    else:
        bucket[record_id] = None


def _bucket_remove(index: dict[Any, str | dict[str, None]], key: Any, record_id: str) -> None:
    bucket = index.get(key)
    if bucket is None:
        return
    if isinstance(bucket, str):
        if bucket == record_id:
            del index[key]
        return
    bucket.pop(record_id, None)
    if len(bucket) == 1:
        index[key] = next(iter(bucket))
    elif not bucket:
        del index[key]


def _is_text(obj_name: str, field: str) -> bool:
    definition = OBJECTS[obj_name.lower()].field(field)
    return definition is not None and definition.is_text
