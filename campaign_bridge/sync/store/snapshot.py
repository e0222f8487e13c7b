"""What each rule last read from its source: the snapshot of its records, and its watermark."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.base import StoreBase, aware, chunks
from campaign_bridge.sync.store.rows import SnapshotRow


class SnapshotStore(StoreBase):
    # -- source snapshot -----------------------------------------------------------------------
    def snapshot_persons(self, rule: str, person_keys: Iterable[str] | None = None) -> set[str]:
        """Persons with at least one record in the rule's source snapshot (all, or among ``person_keys``)."""
        c = t.source_members.c
        with self.engine.connect() as conn:
            if person_keys is None:
                return {k for (k,) in conn.execute(select(c.person_key).where(c.rule == rule).distinct())}
            out: set[str] = set()
            for chunk in chunks(list(set(person_keys))):
                q = select(c.person_key).where(c.rule == rule, c.person_key.in_(chunk)).distinct()
                out |= {k for (k,) in conn.execute(q)}
            return out

    def snapshot_records(self, rule: str, record_ids: Iterable[str]) -> dict[str, str]:
        """{record id: person key} for records already in the snapshot."""
        c = t.source_members.c
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(set(record_ids))):
                q = select(c.record_id, c.person_key).where(c.rule == rule, c.record_id.in_(chunk))
                out.update({rid: key for rid, key in conn.execute(q)})
        return out

    def persons_with_other_records(
        self, rule: str, persons: set[str], excluding: set[str], *, lapsed_before: datetime | None = None
    ) -> set[str]:
        """Which of ``persons`` keep a snapshot record outside ``excluding`` (still in the source). A record
        stamped before ``lapsed_before`` does not count: its segment membership lapsed (a plan asks about
        such records without deleting them, see ``lapse_snapshot``)."""
        c = t.source_members.c
        out: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(list(persons)):
                q = select(c.person_key, c.record_id).where(c.rule == rule, c.person_key.in_(chunk))
                if lapsed_before is not None:
                    q = q.where(or_(c.modified_at.is_(None), c.modified_at >= lapsed_before))
                out |= {k for k, rid in conn.execute(q) if rid not in excluding}
        return out

    def update_snapshot(
        self, rule: str, upserts: Sequence[SnapshotRow], deletes: Sequence[str], *, seen_in: str | None = None
    ) -> set[str]:
        """Write part of the rule's source snapshot; returns the person keys of the deleted records.

        ``seen_in`` (a full read's token) stamps the upserted records, so that ``drop_unseen`` can remove
        the records the read did not see once it is over.
        """
        c = t.source_members.c
        gone: set[str] = set()
        with self.engine.begin() as conn:
            for chunk in chunks(list(deletes)):
                gone |= {k for (k,) in conn.execute(select(c.person_key).where(c.rule == rule, c.record_id.in_(chunk)))}
                conn.execute(delete(t.source_members).where(c.rule == rule, c.record_id.in_(chunk)))
            self._write_rows(
                conn, t.source_members, upserts, ["rule", "record_id"], shared={"rule": rule, "seen_in": seen_in}
            )
        return gone

    def drop_unseen(self, rule: str, seen_in: str) -> set[str]:
        """End a full read: delete the snapshot records not stamped ``seen_in``; returns their persons."""
        c = t.source_members.c
        unseen = and_(c.rule == rule, or_(c.seen_in.is_(None), c.seen_in != seen_in))
        with self.engine.begin() as conn:
            gone = {k for (k,) in conn.execute(select(c.person_key).where(unseen).distinct())}
            conn.execute(delete(t.source_members).where(unseen))
        return gone

    # -- watermarks ----------------------------------------------------------------------------
    def watermark(self, rule: str) -> tuple[Watermark | None, datetime | None]:
        with self.engine.connect() as conn:
            r = conn.execute(select(t.watermarks).where(t.watermarks.c.rule == rule)).first()
        if r is None:
            return None, None
        at = aware(r.at)
        assert at is not None
        return Watermark(at, r.tie_id), aware(r.full_read_at)

    def lapse_snapshot(self, rule: str, before: datetime, *, keep: bool = False) -> set[str]:
        """Delete the rule's snapshot records stamped before ``before`` (their segment membership lapsed;
        ``keep``: a plan, which only asks); returns their persons. Records without a stamp are left to the
        next full read."""
        c = t.source_members.c
        stale = and_(c.rule == rule, c.modified_at < before)
        with self.engine.begin() as conn:
            gone = {k for (k,) in conn.execute(select(c.person_key).where(stale).distinct())}
            if not keep:
                conn.execute(delete(t.source_members).where(stale))
        return gone

    def source_container(self, rule: str) -> str | None:
        """The source container the rule's last clean full read found (as ``set_watermark`` was given it)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.watermarks.c.source_container).where(t.watermarks.c.rule == rule)
            ).scalar_one_or_none()

    def source_version(self, rule: str) -> str | None:
        """The membership version of the rule's source at its last clean full read (None if it gave none)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.watermarks.c.source_version).where(t.watermarks.c.rule == rule)
            ).scalar_one_or_none()

    def set_watermark(
        self,
        rule: str,
        mark: Watermark,
        full_read_at: datetime | None,
        now: datetime,
        *,
        source_version: str | None = None,
        source_container: str | None = None,
    ) -> None:
        """Advance the rule's watermark; a full read (``full_read_at``) also records the source's version
        and the container it found. An incremental read leaves the last full read's as they are."""
        row: dict[str, Any] = {"rule": rule, "at": mark.at, "tie_id": mark.tie_id, "updated_at": now}
        if full_read_at is not None:
            row["full_read_at"] = full_read_at
            row["source_version"] = source_version
            row["source_container"] = source_container
        with self.engine.begin() as conn:
            self._write_many(conn, t.watermarks, tuple(row), [tuple(row.values())], ["rule"])
