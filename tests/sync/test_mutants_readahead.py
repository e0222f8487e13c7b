"""Chunks of a source's read in the run's own thread (``readahead.chunks_of``): a first chunk that comes
quickly, doubling up to the chunk size, every record once and in order; and the time spent waiting for the
source counted as the run's ``read`` time (the report's timings), measured here on a clock the test
drives, so nothing depends on how fast the machine is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from campaign_bridge.mapping.model import MemberRecord, PersonRecord, RecordRef
from campaign_bridge.sync import readahead
from campaign_bridge.sync.readahead import chunks_of


class Clock:
    """A clock the source advances: each record costs one second of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _records(n: int, clock: Clock | None = None) -> Iterator[MemberRecord]:
    for i in range(n):
        if clock is not None:
            clock.now += 1
        yield MemberRecord(PersonRecord(RecordRef("hs", "contact", str(i)), f"p{i}@x.example"), tie_id=str(i))


@pytest.mark.parametrize(
    ("first", "sizes"),
    [
        (None, [10, 10, 10, 7]),
        (2, [2, 4, 8, 10, 10, 3]),
        (50, [10, 10, 10, 7]),  # never more than the chunk size
    ],
)
def test_chunks_ramp_up_from_the_first_size_and_hold_every_record_once_in_order(
    first: int | None, sizes: list[int]
) -> None:
    chunks = list(chunks_of(_records(37), 10, {"read": 0.0}, first))
    assert [len(c) for c in chunks] == sizes
    assert [r.tie_id for c in chunks for r in c] == [str(i) for i in range(37)]


def test_an_empty_source_is_no_chunk() -> None:
    assert list(chunks_of(_records(0), 10, {"read": 0.0}, 2)) == []


def test_the_time_spent_waiting_for_the_source_adds_up_as_the_runs_read_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(readahead.time, "perf_counter", clock)
    timings = {"read": 5.0, "plan": 0.0}  # what the run had counted before
    seen = 0
    for chunk in chunks_of(_records(25, clock), 10, timings, 4):
        seen += len(chunk)
        clock.now += 100  # the run's own work between chunks is not read time
    assert seen == 25
    assert timings == {"read": 5.0 + 25, "plan": 0.0}
