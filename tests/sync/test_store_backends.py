"""The engine's state on both backends: SQLite (default) and PostgreSQL (shared deployments)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.sync.store import tables
from campaign_bridge.sync.store.states import LedgerState
from campaign_bridge.sync.store.store import LedgerRow
from tests.sync.world import World

RULE = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def test_sync_cycle_on_each_backend(tmp_path: Path, store_url: str) -> None:
    w = World(tmp_path, store_url=store_url)
    try:
        camp, lst = w.campaign("Webinar"), w.ma_list("Nurture")
        people = [w.crm_person(f"p{i}@x.com") for i in range(5)]
        for p in people:
            w.crm.add_member(camp, p)
        cfg = w.config(RULE)
        assert w.sync(cfg, "web").counts["added"] == 5
        w.crm.remove_member(camp, people[0])
        report = w.sync(cfg, "web")
        assert report.counts["removed"] == 1
        assert w.ma_emails(lst) == {f"p{i}@x.com" for i in range(1, 5)}
        runs = w.store.runs()
        assert [r["status"] for r in runs] == ["ok", "ok"]
        assert runs[0]["counts"]["removed"] == 1
        assert {d["kind"] for d in w.store.decisions(rule="web")} >= {"added", "removed"}
        mark, full_at = w.store.watermark("web")
        assert mark is not None
        assert full_at is not None
        assert full_at.tzinfo is not None
    finally:
        w.close()


def test_lease_is_exclusive_until_it_expires(tmp_path: Path, store_url: str) -> None:
    w = World(tmp_path, store_url=store_url)
    try:
        now = w.clock()
        assert w.store.try_lease("r", "host-a", now + timedelta(minutes=5), now)
        assert not w.store.try_lease("r", "host-b", now + timedelta(minutes=5), now)
        assert w.store.try_lease("r", "host-a", now + timedelta(minutes=10), now)  # renewal
        later = now + timedelta(minutes=11)
        assert w.store.try_lease("r", "host-b", later + timedelta(minutes=5), later)  # expired: taken over
    finally:
        w.close()


def test_bulk_writes_read_back_as_written_and_an_upsert_leaves_the_columns_it_does_not_name(
    tmp_path: Path, store_url: str
) -> None:
    w = World(tmp_path, store_url=store_url)
    try:
        store, now = w.store, w.clock()
        [a, b] = store.add_persons(["a@x.com", "b@x.com"], now)
        row = LedgerRow(
            "web", a, "ma", "L1", "101", "contact", None, True, LedgerState.PENDING, 2, None, now
        )  # fmt: skip
        store.write_ledger([row, row._replace(person_key=b, attempts=0)])
        first = store.ledger("web")
        assert first == {a: row, b: row._replace(person_key=b, attempts=0)}
        later = now + timedelta(seconds=90)
        store.write_ledger([row._replace(state=LedgerState.PRESENT, written_at=later)])
        again = store.ledger("web")[a]
        assert (again.state, again.written_at, again.attempts) == ("present", later, 2)
        # stored as SQLAlchemy stores a date, so that SQL compares it with one: SQLite compares the text
        c = tables.ledger.c
        with store.engine.connect() as conn:
            at_now = conn.execute(select(c.person_key).where(c.written_at == now)).scalars()
            assert set(at_now) == {b}
            before = conn.execute(select(c.person_key).where(c.written_at < now)).scalars()
            assert set(before) == set()
        # an incremental read's watermark names neither the last full read's time nor the source's
        # version: the upsert leaves them as the full read wrote them
        store.set_watermark("web", Watermark(now, "x1"), now, now, source_version="v7")
        store.set_watermark("web", Watermark(later, "x2"), None, later)
        assert store.watermark("web") == (Watermark(later, "x2"), now)
        assert store.source_version("web") == "v7"
    finally:
        w.close()


def test_person_keys_sort_in_the_order_they_were_made() -> None:
    from campaign_bridge.sync.store.store import new_person_keys

    first, second = new_person_keys(3), new_person_keys(2)
    keys = first + second
    assert sorted(keys) == keys
    assert len(set(keys)) == 5
    assert {len(k) for k in keys} == {32}
