"""The HubSpot pacer shared between threads (a run looks people up in two while it writes in a third):
together they stay under the limit, and a write the run waits for takes the next free slot."""

from __future__ import annotations

import threading
import time

from campaign_bridge.connectors.hubspot.pacing import SlidingWindowPacer


def _pacer(limit: int, window: float) -> SlidingWindowPacer:
    return SlidingWindowPacer(limit, window, clock=time.monotonic, sleep=time.sleep)


def test_threads_sharing_a_pacer_never_exceed_its_limit_together() -> None:
    pacer = _pacer(10, 0.3)
    stamps: list[float] = []
    lock = threading.Lock()

    def take(n: int) -> None:
        for _ in range(n):
            pacer.acquire()
            with lock:
                stamps.append(time.monotonic())
            pacer.release()

    threads = [threading.Thread(target=take, args=(12,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(stamps) == 48
    stamps.sort()
    # Any 10 + 1 consecutive requests span at least the window: no window holds more than 10.
    assert min(b - a for a, b in zip(stamps, stamps[10:], strict=False)) >= 0.3 - 0.01
    # …and the limit was used: 48 requests at 10 per 0.3 s need 4 windows, not much more.
    assert stamps[-1] - stamps[0] < 4 * 0.3 + 0.5


def test_a_request_that_goes_first_takes_the_next_slot_before_requests_already_waiting() -> None:
    pacer = _pacer(1, 0.4)
    order: list[str] = []

    def take(name: str, first: bool) -> None:
        pacer.acquire(first=first)
        pacer.release()
        order.append(name)

    pacer.acquire()
    pacer.release()  # the window is full for 0.4 s
    lookup = threading.Thread(target=take, args=("lookup", False))
    lookup.start()
    time.sleep(0.1)  # the lookup waits for the slot…
    write = threading.Thread(target=take, args=("write", True))
    write.start()  # …when the write comes
    lookup.join(5)
    write.join(5)
    assert order == ["write", "lookup"]


class _Time:
    """A clock the pacer sleeps on: sleeping moves it on, and nothing else does."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_a_request_counts_from_when_its_answer_came_so_hubspots_window_never_starts_later() -> None:
    t = _Time()
    pacer = SlidingWindowPacer(2, 10.0, clock=t.clock, sleep=t.sleep)
    pacer.acquire()
    t.now = 0.4  # HubSpot counted the request somewhere between 0 and 0.4: when it reached it
    pacer.release()
    pacer.acquire()
    pacer.release()
    pacer.acquire()  # the third waits for the first to leave the window counted from its answer
    assert t.slept == [10.0]
    assert t.now == 10.4


def test_requests_in_flight_hold_their_slots_until_their_answers_come() -> None:
    pacer = _pacer(1, 0.2)
    pacer.acquire()  # in flight, no answer yet
    went: list[float] = []

    def second() -> None:
        pacer.acquire()
        went.append(time.monotonic())

    waiting = threading.Thread(target=second)
    waiting.start()
    time.sleep(0.3)  # longer than the window: a stamp taken when the first was sent would have freed it
    assert went == []
    answered = time.monotonic()
    pacer.release()
    waiting.join(5)
    assert went
    assert went[0] - answered >= 0.2 - 0.01
