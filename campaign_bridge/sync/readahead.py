"""Chunks of a source's read, and read-ahead: a thread fetches the next chunk while the run plans the
previous one.

A source paced by its vendor (HubSpot: 190 requests per 10 s) spends most of a large read waiting for its
window to roll; without read-ahead, that wait and the run's own work (resolving, the store, the target's
lookups) add up instead of overlapping. The thread touches only the source connector's iterator, never
the state store, and at most ``depth`` chunks wait in memory.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator

from campaign_bridge.mapping.model import MemberRecord

#: How long ``close`` waits for the thread to notice it should stop (it may be inside one request).
CLOSE_SECONDS = 60.0
#: While the run waits for the next chunk, ``idle`` is called this often.
IDLE_SECONDS = 0.2

_END = object()


def sizes(size: int, first: int | None = None) -> Iterator[int]:
    """Chunk sizes: ``first``, doubling up to ``size``, then ``size`` for ever (``size`` from the start when
    ``first`` is None). A run's first chunk comes quickly, so its first target lookups, and a paced
    vendor's first window, start early."""
    n = min(first or size, size)
    while n < size:
        yield n
        n *= 2
    yield from itertools.repeat(size)


def chunks_of(
    rows: Iterator[MemberRecord], size: int, timings: dict[str, float], first: int | None = None
) -> Iterator[list[MemberRecord]]:
    """``rows`` in lists of ``size`` (ramping up from ``first``, see ``sizes``), in the run's own thread;
    the time spent waiting for them is the run's ``read`` time."""
    for n in sizes(size, first):
        t0 = time.perf_counter()
        chunk = list(itertools.islice(rows, n))
        timings["read"] += time.perf_counter() - t0
        if not chunk:
            return
        yield chunk


class ReadAhead:
    """Chunks of ``size`` records from ``rows`` (ramping up from ``first``: ``sizes``), fetched ahead
    by a thread; the time spent waiting for them is added to ``timings["read"]``. Errors of the read are
    raised where the chunk would have come. While the run waits for a chunk, ``idle`` (if given) is called
    every ``IDLE_SECONDS`` in the run's thread: a paced read leaves the run idle for seconds, time it can
    spend taking in lookups and sending writes. Always ``close`` it (it is a context manager)."""

    def __init__(
        self,
        rows: Iterator[MemberRecord],
        size: int,
        timings: dict[str, float],
        depth: int = 2,
        first: int | None = None,
        idle: Callable[[], None] | None = None,
    ) -> None:
        self._rows, self._sizes, self._timings = rows, sizes(size, first), timings
        self._idle = idle
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, name="campaign-bridge-read-ahead", daemon=True)
        self._thread.start()

    def _fetch(self) -> None:
        try:
            chunk: list[MemberRecord] = []
            size = next(self._sizes)
            for row in self._rows:
                if self._stop.is_set():
                    return
                chunk.append(row)
                if len(chunk) >= size:
                    self._put(chunk)
                    chunk, size = [], next(self._sizes)
            if chunk:
                self._put(chunk)
            self._put(_END)
        except BaseException as exc:  # handed to the reading thread, which raises it
            self._put(exc)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[list[MemberRecord]]:
        while True:
            item = self._next()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, list)
            yield item

    def _next(self) -> object:
        while True:
            t0 = time.perf_counter()
            try:
                item = self._queue.get(timeout=IDLE_SECONDS if self._idle else None)
            except queue.Empty:
                assert self._idle is not None
                self._timings["read"] += time.perf_counter() - t0
                self._idle()
                continue
            self._timings["read"] += time.perf_counter() - t0
            return item

    def waiting(self) -> bool:
        """Whether the next chunk is not fetched yet (the run would wait for it)."""
        return self._queue.empty()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(CLOSE_SECONDS)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
