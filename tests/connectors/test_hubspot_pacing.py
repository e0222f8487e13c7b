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
        order.append(name)

    pacer.acquire()  # the window is full for 0.4 s
    lookup = threading.Thread(target=take, args=("lookup", False))
    lookup.start()
    time.sleep(0.1)  # the lookup waits for the slot…
    write = threading.Thread(target=take, args=("write", True))
    write.start()  # …when the write comes
    lookup.join(5)
    write.join(5)
    assert order == ["write", "lookup"]
