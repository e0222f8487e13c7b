"""The transport-fault soak's short run: 100 seeded scenarios against both sandboxes (see
``transport_soak.py``; the kill soak is ``test_soak.py``).

A failing seed replays alone: ``pytest tests/reliability/test_transport_soak.py -k 'seed-1234'``. The long
run is ``python -m tests.reliability.transport_soak --scenarios 2000 --seed 1``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.bench import Bench
from tests.reliability.transport_soak import Scenario

#: Seeds of the default run; even seeds sync Salesforce → HubSpot, odd ones HubSpot → Salesforce.
SEEDS = range(1000, 1100)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    b = Bench(tmp_path_factory.mktemp("soak"))
    yield b
    b.close()


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed-{s}")
def test_scenario_converges_exactly_and_never_removes_what_it_does_not_own(bench: Bench, seed: int) -> None:
    survived = Scenario(bench, seed, bench.tmp).run()
    assert survived.runs >= 2  # at least one run with faults and one settling run
