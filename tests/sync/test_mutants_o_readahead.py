"""A run that ends before its read (a stop, an error) while the read-ahead thread is inside a long source
call (a paced vendor's wait, its retries): closing waits for the thread only ``CLOSE_SECONDS``, and the
thread left behind does not keep the process from exiting."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from campaign_bridge.mapping.model import MemberRecord, PersonRecord, RecordRef
from campaign_bridge.sync import readahead
from campaign_bridge.sync.readahead import ReadAhead


def _stalling(answered: threading.Event) -> Iterator[MemberRecord]:
    """Ten records, then a source call that does not return until ``answered`` (or a second)."""
    for i in range(10):
        yield MemberRecord(PersonRecord(RecordRef("hs", "contact", str(i)), f"p{i}@x.example"), tie_id=str(i))
    answered.wait(timeout=1)
    yield MemberRecord(PersonRecord(RecordRef("hs", "contact", "10"), "p10@x.example"), tie_id="10")


@pytest.fixture
def short_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readahead, "CLOSE_SECONDS", 0.05)


@pytest.mark.usefixtures("short_close")
def test_closing_during_a_long_source_call_does_not_wait_for_it() -> None:
    answered = threading.Event()
    ahead = ReadAhead(_stalling(answered), 10, {"read": 0.0})
    try:
        assert len(next(iter(ahead))) == 10
        ahead.close()
        # close returned while the source call is still under way
        assert ahead._thread.is_alive()
    finally:
        answered.set()
        ahead._thread.join(5)
    assert not ahead._thread.is_alive()


@pytest.mark.usefixtures("short_close")
def test_a_thread_left_inside_a_source_call_does_not_keep_the_process_alive() -> None:
    # the process exits once the run's thread is done: the read-ahead thread left behind is a daemon
    answered = threading.Event()
    ahead = ReadAhead(_stalling(answered), 10, {"read": 0.0})
    try:
        next(iter(ahead))
        ahead.close()
        assert ahead._thread.daemon
    finally:
        answered.set()
        ahead._thread.join(5)
