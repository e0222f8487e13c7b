"""Leases and fire-time claims on both backends: of several workers racing for one, exactly one wins.

Each worker is a ``Store`` of its own (its own connection pool, as a separate process would have); the
workers start their attempt together at a barrier, so their statements reach the database at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from campaign_bridge.service.claims import claim_fire_time, claim_key
from campaign_bridge.sync.store.store import Store

WORKERS = 4
ROUNDS = 10
T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def workers(store_url: str) -> Iterator[list[Store]]:
    stores = [Store(store_url) for _ in range(WORKERS)]
    yield stores
    for store in stores:
        store.close()


def race(workers: list[Store], attempt: Callable[[int, Store], bool]) -> list[bool]:
    """Every worker's ``attempt`` at once; their answers, in worker order."""
    start = threading.Barrier(len(workers))

    def run(i: int) -> bool:
        start.wait()
        return attempt(i, workers[i])

    with ThreadPoolExecutor(len(workers)) as pool:
        return list(pool.map(run, range(len(workers))))


def test_of_workers_racing_for_a_free_lease_exactly_one_takes_it(workers: list[Store]) -> None:
    for n in range(ROUNDS):
        rule = f"rule-{n}"
        won = race(
            workers, lambda i, store, rule=rule: store.try_lease(rule, f"host-{i}", T0 + timedelta(minutes=5), T0)
        )
        assert won.count(True) == 1
        assert workers[0].lease_holder(rule) == f"host-{won.index(True)}"


def test_of_workers_racing_for_an_expired_lease_exactly_one_takes_it(workers: list[Store]) -> None:
    for n in range(ROUNDS):
        rule = f"rule-{n}"
        assert workers[0].try_lease(rule, "gone", T0, T0 - timedelta(minutes=1))
        later = T0 + timedelta(minutes=1)
        won = race(
            workers,
            lambda i, store, rule=rule, at=later: store.try_lease(rule, f"host-{i}", at + timedelta(minutes=5), at),
        )
        assert won.count(True) == 1
        assert workers[0].lease_holder(rule) == f"host-{won.index(True)}"


def test_of_workers_racing_to_claim_a_fire_time_exactly_one_runs_it(workers: list[Store]) -> None:
    key = claim_key("acme", "webinar", "sync")
    for n in range(ROUNDS):
        fire = T0 + timedelta(minutes=15 * n)
        won = race(workers, lambda _, store, fire=fire: claim_fire_time(store, key, fire))
        assert won.count(True) == 1
        # a late worker can neither run it again nor run an older one
        assert not claim_fire_time(workers[0], key, fire)
        assert not claim_fire_time(workers[0], key, fire - timedelta(seconds=1))


def test_a_claim_is_not_a_lease_and_a_lease_is_not_a_claim(workers: list[Store]) -> None:
    store = workers[0]
    assert store.try_lease("webinar", "host-a", T0 + timedelta(minutes=5), T0)
    key = claim_key("acme", "webinar", "sync")
    assert store.claim_fire_time(key, T0)
    assert store.lease_holder("webinar") == "host-a"
    assert not store.try_lease("webinar", "host-b", T0 + timedelta(minutes=5), T0)


def test_a_claim_key_too_long_for_the_column_still_tells_jobs_apart() -> None:
    long_rule = "r" * 300
    a, b = claim_key("acme", long_rule + "a", "sync"), claim_key("acme", long_rule + "b", "sync")
    assert len(a) == len(b) == 200
    assert a != b
