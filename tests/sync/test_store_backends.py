"""The engine's state on both backends: SQLite (default) and PostgreSQL (shared deployments)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

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
