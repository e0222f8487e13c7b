"""``python -m benchmarks calls`` end to end on 200 members: the real command, sandboxes and clients."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_calls_benchmark_reports_calls_at_the_minimum_and_a_cheap_idle_run() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "calls", "--members", "200", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    rules = {r["rule"]: r for r in result["results"]}
    assert set(rules) == {"crm_to_ma", "ma_to_crm"}
    for rule in rules.values():
        assert rule["added"] == 200
        for system in rule["systems"].values():
            # Nothing can beat the minimum; at 200 members every call is a full page or batch.
            assert system["calls"] >= system["minimum"] > 0
            assert system["ratio"] <= 1.05
    idle = {name: s["idle_calls"] for name, s in rules["crm_to_ma"]["systems"].items()}
    # An idle Salesforce → HubSpot run finds the campaign with its statuses (one query, a subquery) and
    # reads incrementally (one query), and finds the list; it writes nothing and looks nobody up. Issue 7:
    # an idle run costs at most 2 calls per system.
    assert idle["salesforce"] <= 2
    assert idle["hubspot"] == 1
    # HubSpot → Salesforce: the target only finds its campaign (one query). The list search that finds the
    # source list also gives its membership version (size, last added, last removed); it has not moved
    # since the first run's full read, so the idle run reads nothing more (a full read costs 4 calls).
    assert rules["ma_to_crm"]["systems"]["salesforce"]["idle_calls"] == 1
    assert rules["ma_to_crm"]["systems"]["hubspot"]["idle_calls"] == 1
    assert rules["ma_to_crm"]["systems"]["hubspot"]["calls"] > 1
