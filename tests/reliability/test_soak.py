"""The kill soak's default run: 200 seeded scenarios, each a real ``campaign-bridge sync`` process
SIGKILLed at random points, checked record by record against an oracle (see ``soak.py``).

A failing seed replays alone: ``python -m tests.reliability.soak --seed 1234 --scenarios 1`` (or
``pytest tests/reliability/test_soak.py -k seed-1234``). The long run (10,000 scenarios, ``slow``) is
``scripts/soak.sh 10000``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.bench import Bench
from tests.reliability.soak import ForkServer, Scenario, soak

#: Seeds of the default run: every 6th runs over HTTP against the Salesforce and HubSpot emulators,
#: 1000, 1050, 1100 and 1150 have thousands of members (memory batches; Salesforce Bulk API 2.0).
SEEDS = range(1000, 1200)


@dataclass
class Rig:
    tmp: Path
    forks: ForkServer
    bench: Bench


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("soak")
    bench, forks = Bench(tmp, wall_clock=True), ForkServer()
    yield Rig(tmp, forks, bench)
    forks.close()
    bench.close()


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed-{s}")
def test_killed_runs_converge_exactly_and_never_remove_what_a_person_added(rig: Rig, seed: int) -> None:
    survived = Scenario(seed, rig.tmp, rig.forks, rig.bench).run()
    assert survived.runs >= 2


@pytest.mark.slow
def test_ten_thousand_scenarios() -> None:
    """The long run (``scripts/soak.sh 10000``), in pytest form: ``pytest -m slow -k ten_thousand``."""
    _, failures = soak(10_000, 1, keep_going=True)
    assert not failures, "\n".join(failures)
