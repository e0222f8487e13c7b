"""The kit's pacers on a hand-driven clock: sliding and fixed windows, a cap on requests in flight, and
holds from the vendor's own counters."""

from __future__ import annotations

import threading

import pytest

from campaign_bridge.connectors.kit.pacing import FixedWindowPacer, SlidingWindowPacer, observe_remaining

#: A guard against a hung test, not a measurement: how long a thread may take to finish once unblocked.
JOIN_TIMEOUT = 10.0


class _Time:
    """A clock the pacer sleeps on: sleeping moves it on, and nothing else does."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def _request(pacer: SlidingWindowPacer | FixedWindowPacer) -> None:
    pacer.acquire()
    pacer.release()


def test_a_fixed_window_frees_every_slot_when_it_resets() -> None:
    t = _Time()
    pacer = FixedWindowPacer(2, 10.0, clock=t.clock, sleep=t.sleep)
    _request(pacer)
    t.now = 3.0
    _request(pacer)
    _request(pacer)  # the window [0, 10) is full: wait for its reset, not for 10 s after the last answer
    assert t.slept == [7.0]
    _request(pacer)  # the second slot of [10, 20)
    assert t.slept == [7.0]


def test_a_sliding_window_frees_a_slot_a_window_after_its_answer() -> None:
    t = _Time()
    pacer = SlidingWindowPacer(2, 10.0, clock=t.clock, sleep=t.sleep)
    _request(pacer)
    t.now = 3.0
    _request(pacer)
    _request(pacer)  # the first answer (at 0) leaves the window at 10
    _request(pacer)  # the second (at 3) at 13: a fixed window would have let it go at 10
    assert t.slept == [7.0, 3.0]


def test_a_fixed_window_aligned_to_the_vendors_reset_waits_for_that_reset() -> None:
    t = _Time(3.0)
    pacer = FixedWindowPacer(1, 10.0, clock=t.clock, sleep=t.sleep)
    pacer.align(4.0)  # the vendor says its window resets in 4 s
    _request(pacer)
    _request(pacer)
    assert t.slept == [4.0]


def test_the_vendors_own_count_holds_requests_until_the_window_rolls() -> None:
    t = _Time()
    pacer = SlidingWindowPacer(100, 10.0, clock=t.clock, sleep=t.sleep)
    _request(pacer)
    observe_remaining(pacer, 5)  # plenty left: no hold
    t.now = 2.0
    _request(pacer)
    assert t.slept == []
    observe_remaining(pacer, 1)  # other integrations spent the window: wait for our oldest to leave it
    _request(pacer)
    assert t.slept == [8.0]


def test_a_vendor_interval_shorter_than_the_window_bounds_the_hold() -> None:
    t = _Time()
    pacer = SlidingWindowPacer(100, 10.0, clock=t.clock, sleep=t.sleep)
    _request(pacer)
    observe_remaining(pacer, 0, window=1.0)
    _request(pacer)
    assert t.slept == [1.0]


def test_no_more_requests_fly_at_once_than_the_cap() -> None:
    t = _Time()
    pacer = SlidingWindowPacer(100, 10.0, clock=t.clock, sleep=t.sleep, max_in_flight=1)
    pacer.acquire()  # in flight, no answer yet
    second_went = threading.Event()
    waiting = threading.Thread(target=lambda: (pacer.acquire(), second_went.set()))
    waiting.start()
    assert not second_went.wait(0.2)  # a bounded look, not a timing: without the cap it goes at once
    pacer.release()
    waiting.join(JOIN_TIMEOUT)
    assert second_went.is_set()
    assert t.slept == []  # the window was never full: only the cap held it


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="limit of at least one"):
        SlidingWindowPacer(0, 1.0, clock=lambda: 0.0, sleep=lambda _: None)
    with pytest.raises(ValueError, match="max_in_flight of at least one"):
        FixedWindowPacer(1, 1.0, clock=lambda: 0.0, sleep=lambda _: None, max_in_flight=0)
