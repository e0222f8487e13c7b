"""``benchmarks/dynamics.py`` on 300 members: the real sandboxes, clients and engine, call counts against the
minimum worked out from Dataverse's sizes, and idle reruns."""

from __future__ import annotations

from benchmarks.dynamics import calls


def test_dynamics_calls_are_the_minimum_and_an_idle_run_costs_one_call_per_system() -> None:
    result = calls(300)
    rules = {r["rule"]: r for r in result["results"]}
    assert set(rules) == {"d365_to_hs", "hs_to_d365"}
    for rule in rules.values():
        assert rule["added"] == 300
        for system in rule["systems"].values():
            assert system["calls"] >= system["minimum"] > 0  # nothing beats the minimum
            assert system["ratio"] <= 1.05
            assert system["idle_calls"] == 1  # the source's version has not moved; the target is only found
    # Dynamics → HubSpot: sign-in (2), the campaign's $batch (1), one page of members.
    assert rules["d365_to_hs"]["systems"]["dynamics"]["calls"] == 4
