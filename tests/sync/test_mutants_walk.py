"""Where the next incremental read resumes (``walk.newest`` and ``walk.advance``): the newest source stamp
read, its id breaking a tie within one second, never past the run's start, never moving back; a read
that saw no stamp keeps the old watermark. A watermark too far ahead loses the members stamped in between;
one that moves back reads them again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.mapping.model import MemberRecord, PersonRecord, RecordRef
from campaign_bridge.sync.walk import advance, newest

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


def _at(stamp: datetime | None, tie: str) -> MemberRecord:
    return MemberRecord(PersonRecord(RecordRef("crm", "Contact", tie), f"{tie}@x.com"), modified_at=stamp, tie_id=tie)


def test_the_newest_stamp_wins_whatever_the_order_read() -> None:
    records = [_at(T0 + timedelta(seconds=5), "b"), _at(T0 + timedelta(seconds=9), "a"), _at(T0, "z")]
    assert newest(None, records) == (T0 + timedelta(seconds=9), "a")
    assert newest(None, records[::-1]) == (T0 + timedelta(seconds=9), "a")


def test_within_one_second_the_higher_id_is_the_newest() -> None:
    records = [_at(T0, "b"), _at(T0, "c"), _at(T0, "a")]
    assert newest(None, records) == (T0, "c")


def test_records_without_a_stamp_do_not_move_the_newest() -> None:
    assert newest(None, [_at(None, "a")]) is None
    assert newest((T0, "m"), [_at(None, "z"), _at(T0 - timedelta(seconds=1), "z")]) == (T0, "m")


def test_a_newer_chunk_moves_the_newest_seen_by_earlier_chunks() -> None:
    assert newest((T0, "m"), [_at(T0, "n")]) == (T0, "n")
    assert newest((T0, "m"), [_at(T0, "l")]) == (T0, "m")


def test_the_watermark_advances_to_the_newest_stamp_read() -> None:
    assert advance(Watermark(T0), (T0 + timedelta(minutes=5), "x"), NOW) == Watermark(T0 + timedelta(minutes=5), "x")


def test_a_read_that_saw_no_stamp_keeps_the_old_watermark_or_starts_at_the_runs_start() -> None:
    assert advance(Watermark(T0, "k"), None, NOW) == Watermark(T0, "k")
    assert advance(None, None, NOW) == Watermark(NOW)


def test_a_stamp_past_the_runs_start_is_cut_to_it() -> None:
    # a source clock running ahead would otherwise skip what changes between the run's start and that stamp
    assert advance(None, (NOW + timedelta(minutes=3), "x"), NOW) == Watermark(NOW, "x")


def test_a_stamp_without_a_zone_is_kept_as_read() -> None:
    naive = datetime(2026, 3, 1, 15, 0)
    assert advance(None, (naive, "x"), NOW) == Watermark(naive, "x")


def test_the_watermark_never_moves_back() -> None:
    old = Watermark(T0 + timedelta(minutes=10), "m")
    assert advance(old, (T0, "z"), NOW) == old
    assert advance(old, (T0 + timedelta(minutes=10), "a"), NOW) == old
    assert advance(old, (T0 + timedelta(minutes=10), "m"), NOW) == old
    assert advance(old, (T0 + timedelta(minutes=10), "n"), NOW) == Watermark(T0 + timedelta(minutes=10), "n")
