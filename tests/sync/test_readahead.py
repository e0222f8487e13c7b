"""Read-ahead: the source's chunks come whole and in order, its errors where the chunk would have come,
and a run that stops early leaves no thread fetching behind it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from campaign_bridge.errors import QuotaExhaustedError
from campaign_bridge.mapping.model import MemberRecord, PersonRecord, RecordRef
from campaign_bridge.sync.readahead import ReadAhead


def _records(n: int, *, fail_at: int | None = None) -> Iterator[MemberRecord]:
    for i in range(n):
        if i == fail_at:
            raise QuotaExhaustedError("hs: the daily limit is spent")
        yield MemberRecord(PersonRecord(RecordRef("hs", "contact", str(i)), f"p{i}@x.example"), tie_id=str(i))


def test_chunks_arrive_whole_and_in_order() -> None:
    timings = {"read": 0.0}
    with ReadAhead(_records(25), 10, timings) as ahead:
        chunks = list(ahead)
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [r.tie_id for c in chunks for r in c] == [str(i) for i in range(25)]
    assert timings["read"] >= 0.0


def test_a_failing_read_raises_its_error_after_the_chunks_before_it() -> None:
    got: list[int] = []

    def consume() -> None:
        with ReadAhead(_records(25, fail_at=15), 10, {"read": 0.0}) as ahead:
            got.extend(len(chunk) for chunk in ahead)

    with pytest.raises(QuotaExhaustedError, match="daily limit"):
        consume()
    assert got == [10]


def test_closing_early_stops_the_thread() -> None:
    ahead = ReadAhead(_records(10_000), 10, {"read": 0.0}, depth=1)
    first = next(iter(ahead))
    ahead.close()
    assert len(first) == 10
    assert not ahead._thread.is_alive()


def test_while_the_run_waits_for_a_slow_chunk_its_idle_work_is_done_in_the_runs_thread() -> None:
    def slow(n: int) -> Iterator[MemberRecord]:
        for record in _records(n):
            if record.tie_id == "10":
                time.sleep(0.7)  # a paced read waiting for its window
            yield record

    idle_threads: list[str] = []
    timings = {"read": 0.0}
    started = time.perf_counter()
    with ReadAhead(slow(20), 10, timings, idle=lambda: idle_threads.append(threading.current_thread().name)) as ahead:
        chunks = [len(c) for c in ahead]
    waited = time.perf_counter() - started
    assert chunks == [10, 10]
    assert len(idle_threads) >= 2  # called again and again during the wait, not once
    assert set(idle_threads) == {threading.current_thread().name}
    # the run's "read" time is every wait for the slow chunk, the waits its idle work broke up included
    assert 0.5 <= timings["read"] <= waited


@pytest.mark.timeout(20)  # a chunk dropped would leave the run waiting for the end of the read for ever
def test_a_run_slower_than_its_read_still_gets_every_chunk() -> None:
    # The thread fills its queue long before a run planning against a slow target takes the next chunk: it
    # waits for room however long that takes, and hands over every record read, once, in order.
    got: list[str] = []
    with ReadAhead(_records(12), 3, {"read": 0.0}, depth=1) as ahead:
        for chunk in ahead:
            time.sleep(0.15)  # longer than the thread's wait for room in one try
            got += [r.person.ref.id for r in chunk]
    assert got == [str(i) for i in range(12)]
