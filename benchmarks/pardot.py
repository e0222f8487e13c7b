"""``python -m benchmarks pardot``: API calls of a first sync and an idle run between Salesforce and Account
Engagement (both directions) against the minimum v5 allows, and the limits-on time against the time v5's
5-request cap alone imposes.

Both sandboxes run in this process (Salesforce over HTTPS, Pardot over HTTP) and every person exists on both
sides, so nobody is created.

The minimum, per system, from the vendors' batch sizes (Salesforce's parts as ``minimum.py`` works them out):

* Salesforce → Pardot list: Pardot logs in to Salesforce (1), finds the list (1), reads its prospects'
  emails once (the cheaper of ``ceil(n / 1000)`` query pages and an export: create, one poll, one file),
  and adds each member with its own ``POST list-memberships`` (v5 has no batch write): ``n`` calls.
* Pardot list → Salesforce: Pardot logs in (1), finds the list (1) and reads its memberships with the
  members' emails through the ``prospect`` relationship (the cheaper of query pages and an export).

Limits on: the sandbox answers each request after ``LATENCY`` seconds and allows 5 in flight, so the time
the cap alone imposes on ``c`` Pardot calls is ``c × LATENCY / 5``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from math import ceil
from pathlib import Path
from typing import Any

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.pardot import PardotConnector
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.sandbox.pardot import PardotSandbox
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import RunReport
from campaign_bridge.sync.store.store import Store

from .minimum import SF_FIND_CAMPAIGN, SF_LOGIN, SF_LOOKUP_BATCH, Minimum, sf_read, sf_write
from .runs import IDLE_GOAL, LIMIT_GOAL, RATIO_GOAL, machine
from .sandboxes import SEED_AGE, _ShiftedClock

DIRECTIONS = ("crm_to_ma", "ma_to_crm")
LABELS = {"crm_to_ma": "Salesforce → Pardot", "ma_to_crm": "Pardot → Salesforce"}
SYSTEMS = {"sf": "salesforce", "pd": "pardot"}
#: v5's page, and an export: create, one poll when it is ready, one file per 500,000 rows (the sandbox's).
PD_PAGE = 1000
PD_EXPORT_FIXED = 2
PD_EXPORT_FILE = 500_000
#: Seconds the sandbox takes to answer each request with limits on (a real business unit takes 100–300 ms).
LATENCY = 0.1
CONCURRENT = 5

CONFIG = """\
client: bench
state: sqlite:///{state}
connections:
  sf:
    type: salesforce
    instance_url: {sf_url}
    login_url: {sf_url}
    ca_bundle: {ca}
    auth: {{method: client_credentials, client_id: {sf_client}, client_secret: "${{SF_SECRET}}"}}
  pd:
    type: pardot
    business_unit_id: {bu}
    base_url: {pd_url}
    login_url: {pd_url}
    api_budget: 1000000
    read_export: {read_export}
    auth: {{method: client_credentials, client_id: {pd_client}, client_secret: "${{PD_SECRET}}"}}
rules:
"""
#: One rule per direction (the two together would be a cycle, which validate refuses).
RULES = {
    "crm_to_ma": """  - name: crm_to_ma
    from: {connection: sf, campaign: "Bench campaign"}
    to:   {connection: pd, list: "Bench list"}
    match: {create_missing: skip}
    mode: mirror
""",
    "ma_to_crm": """  - name: ma_to_crm
    from: {connection: pd, list: "Bench list"}
    to:   {connection: sf, campaign: "Bench campaign", status: Responded}
    match: {create_missing: skip}
    mode: mirror
""",
}


def pd_read(rows: int) -> int:
    return min(max(1, ceil(rows / PD_PAGE)), PD_EXPORT_FIXED + max(1, ceil(rows / PD_EXPORT_FILE)))


def minimum(direction: str, members: int) -> Minimum:
    m = Minimum()
    m.add("sf", "login", SF_LOGIN)
    m.add("sf", "find campaign", SF_FIND_CAMPAIGN)
    m.add("pd", "login", 1)
    m.add("pd", "find list", 1)
    if direction == "crm_to_ma":
        m.add("sf", "read members", sf_read(members))
        m.add("pd", "prospects by email", pd_read(members))
        m.add("pd", "add members", members)
    else:
        m.add("pd", "read members", pd_read(members))
        m.add("sf", "lookup by email", 2 * ceil(members / SF_LOOKUP_BATCH))
        m.add("sf", "add members", sf_write(members))
    return m


@dataclass
class World:
    engine: Engine
    connectors: dict[str, Connector]
    pd: PardotSandbox

    def sync(self, rule: str) -> RunReport:
        return self.engine.sync(rule)


def email(i: int) -> str:
    return f"person{i:06d}@bench.example"


@contextmanager
def world(direction: str, members: int, *, limits: bool = False, read_export: str = "auto") -> Iterator[World]:
    emails = [email(i) for i in range(members)]
    # Seeding is stamped in the past, the last member an hour after the rest (as ``sandboxes.py`` does):
    # an idle run's incremental read, from the watermark less the look-back, then sees only that one.
    clock = _ShiftedClock(-SEED_AGE)
    with (
        SalesforceSandbox(daily_limit=None, clock=clock) as sf,
        PardotSandbox(limits=limits, latency=LATENCY if limits else 0.0, clock=clock) as pd,
        tempfile.TemporaryDirectory() as tmp,
    ):
        campaign = sf.state.add_campaign("Bench campaign", statuses=[("Sent", False), ("Responded", True)])
        contacts = sf.state.bulk_add_contacts(list(emails))
        prospects = pd.state.bulk_add_prospects(emails)
        bench_list = pd.state.add_list("Bench list")
        if direction == "crm_to_ma":
            sf.state.bulk_add_members(campaign, contacts[:-1])
            clock.offset = -SEED_AGE / 2
            sf.state.bulk_add_members(campaign, contacts[-1:])
        else:
            for pid in prospects[:-1]:
                pd.state.add_member(bench_list, pid)
            clock.offset = -SEED_AGE / 2
            pd.state.add_member(bench_list, prospects[-1])
        clock.offset = timedelta(0)
        text = CONFIG.format(
            state=Path(tmp) / "state.db", sf_url=sf.instance_url, ca=sf.ca_bundle, sf_client=sf.credentials["client_id"],
            bu=pd.business_unit_id, pd_url=pd.url, pd_client=pd.org.credentials.client_id, read_export=read_export,
        ) + RULES[direction]  # fmt: skip
        env = {"SF_SECRET": sf.credentials["client_secret"], "PD_SECRET": pd.org.credentials.client_secret}
        config = load_config_text(text, "bench.yaml", env)
        store = Store(config.state_url)
        connectors: dict[str, Connector] = {
            "sf": SalesforceConnector("sf", config.connections["sf"], bulk_poll_seconds=0),
            "pd": PardotConnector("pd", config.connections["pd"], policy=CallPolicy()),
        }
        try:
            yield World(Engine(config, store, connectors), connectors, pd)
        finally:
            for connector in connectors.values():
                connector.close()
            store.close()


def calls(members: int, directions: tuple[str, ...] = DIRECTIONS, read_export: str = "auto") -> dict[str, Any]:
    results = []
    for direction in directions:
        with world(direction, members, read_export=read_export) as w:
            started = time.perf_counter()
            first = w.sync(direction)
            seconds = time.perf_counter() - started
            by_endpoint = {SYSTEMS[n]: dict(c.usage().by_endpoint) for n, c in w.connectors.items()}
            idle = w.sync(direction)
            # The daily full read of the unchanged source: the size the first read found is known by then.
            reread = w.engine.sync(direction, full=True)
        least = minimum(direction, members)
        systems = {}
        for key, name in SYSTEMS.items():
            systems[name] = {
                **least.against(key, first.api_calls.get(key, 0), idle.api_calls.get(key, 0)),
                "full_reread_calls": reread.api_calls.get(key, 0),
                "by_endpoint": by_endpoint[name],
            }
        total, floor = sum(s["calls"] for s in systems.values()), sum(s["minimum"] for s in systems.values())
        results.append(
            {
                "rule": direction,
                "label": LABELS[direction],
                "status": first.status,
                "added": first.counts.get("added", 0),
                "seconds": round(seconds, 3),
                "systems": systems,
                "direction": {"calls": total, "minimum": floor, "ratio": round(total / floor, 3)},
            }
        )
    return {
        "benchmark": "pardot calls",
        "members": members,
        "read_export": read_export,
        "machine": machine(),
        "results": results,
    }


def limits_on(members: int) -> dict[str, Any]:
    """Salesforce → Pardot with the sandbox's limits on: the rule that makes many Pardot calls."""
    direction = "crm_to_ma"
    with world(direction, members, limits=True) as w:
        started = time.perf_counter()
        report = w.sync(direction)
        seconds = time.perf_counter() - started
        refused = sum(1 for r in w.pd.server.log if r.status == 429)
    pd_calls = report.api_calls.get("pd", 0)
    bound = pd_calls * LATENCY / CONCURRENT
    return {
        "benchmark": "pardot limits",
        "members": members,
        "machine": machine(),
        "results": [
            {
                "rule": direction,
                "label": LABELS[direction],
                "status": report.status,
                "seconds": round(seconds, 3),
                "pardot_calls": pd_calls,
                "limit_seconds": round(bound, 3),
                "ratio": round(seconds / bound, 3) if bound else None,
                "refused_by_cap": refused,
                "latency": LATENCY,
            }
        ],
    }


__all__ = ["IDLE_GOAL", "LIMIT_GOAL", "RATIO_GOAL", "calls", "limits_on", "minimum"]
