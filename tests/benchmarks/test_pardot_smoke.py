"""``python -m benchmarks pardot`` end to end on 200 members: the real command, sandboxes and connectors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pardot_calls_are_at_the_minimum_and_an_idle_run_is_cheap() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "pardot", "--members", "200", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rules = {r["rule"]: r for r in json.loads(done.stdout)["results"]}
    assert set(rules) == {"crm_to_ma", "ma_to_crm"}
    for rule in rules.values():
        assert rule["added"] == 200
        for system in rule["systems"].values():
            assert system["calls"] >= system["minimum"] > 0
            assert system["ratio"] <= 1.05
            assert system["idle_calls"] <= 2
    # Salesforce → Pardot: one add per member (v5 has no batch write), the prospects read once for lookups.
    assert rules["crm_to_ma"]["systems"]["pardot"]["by_endpoint"]["list-memberships"] == 200
