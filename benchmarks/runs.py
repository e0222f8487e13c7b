"""The three benchmarks, each answering a JSON-ready dict: ``calls``, ``throughput`` and ``scale``."""

from __future__ import annotations

import os
import platform
import resource
import time
from math import ceil
from typing import Any

from campaign_bridge.connectors.hubspot import HubSpotConnector

from .minimum import minimum
from .profiling import PARTS, profiled
from .sandboxes import Scenario
from .world import world

DIRECTIONS = ("crm_to_ma", "ma_to_crm")
LABELS = {"crm_to_ma": "Salesforce → HubSpot", "ma_to_crm": "HubSpot → Salesforce"}
SYSTEMS = {"sf": "salesforce", "hs": "hubspot"}
#: HubSpot Professional/Enterprise: 190 requests per rolling 10 seconds.
HUBSPOT_LIMIT = 190
HUBSPOT_WINDOW = 10.0
#: The Salesforce org's daily API allocation with limits on (Enterprise: 100,000 plus per-licence calls).
SALESFORCE_DAILY = 100_000
#: The goals of issue 7.
IDLE_GOAL = 2
RATIO_GOAL = 1.05
LIMIT_GOAL = 1.1


def machine() -> dict[str, Any]:
    """Cores and memory of this machine, and the Python that ran the benchmark."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this (the campaign-bridge) process so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _by_system(counts: dict[str, int]) -> dict[str, int]:
    return {SYSTEMS[k]: v for k, v in counts.items()}


def calls(members: int, directions: tuple[str, ...] = DIRECTIONS) -> dict[str, Any]:
    """First sync and an idle second run of each rule: calls per system against the minimum."""
    results = []
    for direction in directions:
        with world(Scenario(direction, members)) as w:
            started = time.perf_counter()
            first = w.sync()
            seconds = time.perf_counter() - started
            by_endpoint = {SYSTEMS[n]: dict(c.usage().by_endpoint) for n, c in w.connectors.items()}
            idle = w.sync()
        least = minimum(direction, members)
        systems = {}
        for key, name in SYSTEMS.items():
            systems[name] = {
                **least.against(key, first.api_calls.get(key, 0), idle.api_calls.get(key, 0)),
                "by_endpoint": by_endpoint[name],
            }
        results.append(
            {
                "rule": direction,
                "label": LABELS[direction],
                "members": members,
                "added": first.counts.get("added", 0),
                "seconds": round(seconds, 3),
                "systems": systems,
            }
        )
    return {"benchmark": "calls", "members": members, "machine": machine(), "results": results}


def limit_seconds(hubspot_calls: int, limit: int = HUBSPOT_LIMIT, window: float = HUBSPOT_WINDOW) -> float:
    """The time HubSpot's rolling limit alone imposes on ``hubspot_calls`` requests: the first ``limit``
    go at once, and each further ``limit`` waits for the window to roll on."""
    return max(0, ceil(hubspot_calls / limit) - 1) * window


def throughput(
    members: int, limits: bool, directions: tuple[str, ...] = DIRECTIONS, *, profile: bool = True
) -> dict[str, Any]:
    """An initial sync of each rule; with ``limits``, under HubSpot's 190/10 s and a Salesforce daily
    allocation, against the time those limits alone impose. With ``profile`` (limits off only), the same
    sync again on fresh sandboxes under cProfile, for the split of the time: cProfile slows a run down
    (about 2×, most in SQLAlchemy's many small calls), so the timed run is never the profiled one."""
    results = []
    for direction in directions:
        scenario = Scenario(
            direction,
            members,
            hubspot_limit=HUBSPOT_LIMIT if limits else None,
            salesforce_daily=SALESFORCE_DAILY if limits else None,
        )
        with world(scenario) as w:
            w.host.reset_stats()
            started = time.perf_counter()
            report = w.sync()
            seconds = time.perf_counter() - started
            sandbox = w.host.stats()
            sf_usage = w.connectors["sf"].usage()
            hs = w.connectors["hs"]
            hubspot_429s = hs.client.rate_limited if isinstance(hs, HubSpotConnector) else None
        row: dict[str, Any] = {
            "rule": direction,
            "label": LABELS[direction],
            "members": members,
            "limits": limits,
            "seconds": round(seconds, 3),
            "members_per_second": round(members / seconds, 1),
            "calls": _by_system(report.api_calls),
            "minimum": {SYSTEMS[k]: minimum(direction, members).total(k) for k in SYSTEMS},
            "engine_timings": {k: round(v, 3) for k, v in report.timings.items()},
            "sandbox_cpu_seconds": round(sandbox["cpu_seconds"], 3),
            "sandbox_share": round(sandbox["cpu_seconds"] / seconds, 3),
            "sandbox_peak_rss_mib": round(sandbox["peak_rss_mib"], 1),
            "peak_rss_mib": peak_rss_mib(),
        }
        if limits:
            hs_calls = report.api_calls.get("hs", 0)
            bound = limit_seconds(hs_calls)
            row["hubspot_limit"] = f"{HUBSPOT_LIMIT} per {HUBSPOT_WINDOW:.0f} s"
            row["limit_seconds"] = bound
            row["limit_ratio"] = round(seconds / bound, 3) if bound else None
            row["hubspot_429s"] = hubspot_429s
            row["salesforce_daily"] = {"allocation": SALESFORCE_DAILY, "used": sf_usage.used}
        elif profile:
            with world(scenario) as w:
                started = time.perf_counter()
                _, parts = profiled(w.sync)
                row["profiled_seconds"] = round(time.perf_counter() - started, 3)
            total = max(sum(parts.values()), 1e-9)
            row["profile_seconds"] = {p: round(parts[p], 3) for p in PARTS}
            row["profile_share"] = {p: round(parts[p] / total, 3) for p in PARTS}
        results.append(row)
    return {"benchmark": "throughput", "members": members, "machine": machine(), "results": results}


def scale(members: int, changed_share: float = 0.01) -> dict[str, Any]:
    """The Salesforce → HubSpot rule at ``members``: the first sync's time and peak memory, then an
    incremental run after ``changed_share`` of the members changed (half left, half joined)."""
    direction = "crm_to_ma"
    with world(Scenario(direction, members)) as w:
        seed_seconds = w.host.endpoints.seed_seconds if w.host.endpoints else None
        started = time.perf_counter()
        first = w.sync()
        first_seconds = time.perf_counter() - started
        first_peak = peak_rss_mib()
        changed = w.host.change(max(2, int(members * changed_share)))
        w.host.reset_stats()
        started = time.perf_counter()
        incremental, parts = profiled(w.sync)
        incremental_seconds = time.perf_counter() - started
        sandbox = w.host.stats()
    return {
        "benchmark": "scale",
        "members": members,
        "machine": machine(),
        "results": [
            {
                "rule": direction,
                "label": LABELS[direction],
                "members": members,
                "sandbox_seed_seconds": round(seed_seconds or 0.0, 1),
                "first_seconds": round(first_seconds, 3),
                "first_calls": _by_system(first.api_calls),
                "first_timings": {k: round(v, 3) for k, v in first.timings.items()},
                "peak_rss_mib_after_first": first_peak,
                "changed": changed,
                "incremental_seconds": round(incremental_seconds, 3),
                "incremental_read": incremental.read,
                "incremental_full_read": incremental.full_read,
                "incremental_counts": incremental.counts,
                "incremental_calls": _by_system(incremental.api_calls),
                "incremental_timings": {k: round(v, 3) for k, v in incremental.timings.items()},
                "incremental_profile_seconds": {p: round(parts[p], 3) for p in PARTS},
                "peak_rss_mib": peak_rss_mib(),
                "sandbox_peak_rss_mib": round(sandbox["peak_rss_mib"], 1),
            }
        ],
    }
