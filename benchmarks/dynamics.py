"""Dynamics 365 ⇄ HubSpot: API calls of a first sync against the minimum, an idle rerun, and the time under
Dataverse's service protection limits against the time the limit alone imposes.

``python -m benchmarks dynamics calls --members 10000`` and ``python -m benchmarks dynamics limits``.

The rules: ``d365_to_hs``, a Dynamics campaign (its linked static list of ``members`` contacts) mirrored into
a HubSpot MANUAL list; ``hs_to_d365``, a HubSpot MANUAL list mirrored into a static list of a Dynamics
campaign with status ``Interested`` (a campaign response per person). Every person exists on both sides.
Both sandboxes run in this process (HTTPS for Dataverse and Entra ID, msal and hubspot-api-client real).

The minimum (``minimum``), from Dataverse's own sizes [D: reference/api-facts.md §3, vendor-facts.md]:

* sign-in: msal reads the tenant's OpenID configuration and asks the token endpoint once: 2 calls;
* a campaign with its lists and the response codes: one ``$batch`` (1 call); a campaign list target the same;
* reads: 5,000 rows a page (``odata.maxpagesize``), the responses' first page riding in the first ``$batch``:
  ``ceil(members / 5000)``;
* what a target list already holds (members and responses, first pages in one ``$batch``): 1 call;
* lookups: a ``$batch`` of up to 1,000 requests, each ``In`` query of 500 addresses (a GET line under 32 kB)
  for contacts and leads: 250,000 addresses a call, ``ceil(members / 250000)``;
* writes: one ``AddListMembersList`` (no documented size cap) plus one campaign response per person, 1,000
  requests a ``$batch``: ``ceil((members + 1) / 1000)``.

HubSpot's side is the same as in ``benchmarks/minimum.py``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from math import ceil
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.dynamics import DynamicsConnector
from campaign_bridge.connectors.hubspot import HubSpotConnector
from campaign_bridge.sandbox.dynamics import DynamicsSandbox
from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import RunReport
from campaign_bridge.sync.store.store import Store

from .minimum import HS_BATCH_READ, HS_FIND_LIST, HS_MEMBERS_PAGE, HS_MEMBERSHIP_WRITE, Minimum
from .runs import IDLE_GOAL, LIMIT_GOAL, RATIO_GOAL, machine

DIRECTIONS = ("d365_to_hs", "hs_to_d365")
LABELS = {"d365_to_hs": "Dynamics → HubSpot", "hs_to_d365": "HubSpot → Dynamics"}
SYSTEMS = {"d365": "dynamics", "hs": "hubspot"}
CAMPAIGN, D_LIST, HS_LIST = "Bench campaign", "Bench list", "Bench audience"

D_SIGN_IN = 2
D_PAGE = 5000
D_FIND = 1
D_TARGET_STATE = 1
D_LOOKUP_PER_CALL = 1000 * 500 // 2
D_BATCH = 1000

#: Limits on: Dataverse's 6,000 requests per 5 minutes never binds a 10,000-member sync (a few dozen calls), so
#: the sandbox's window is scaled down to this many requests per ``LIMIT_WINDOW`` seconds, the same rule at a
#: size where it binds; the connector is told the same numbers, as a client file would.
LIMIT_REQUESTS = {"d365_to_hs": 1, "hs_to_d365": 4}
LIMIT_WINDOW = 20.0


def minimum(direction: str, members: int) -> Minimum:
    m = Minimum()
    m.add("d365", "sign in", D_SIGN_IN)
    m.add("d365", "find campaign", D_FIND)
    if direction == "d365_to_hs":
        m.add("d365", "read members", max(1, ceil(members / D_PAGE)))
        m.add("hs", "find list", HS_FIND_LIST)
        m.add("hs", "lookup by email", ceil(members / HS_BATCH_READ))
        m.add("hs", "add members", ceil(members / HS_MEMBERSHIP_WRITE))
    else:
        m.add("hs", "find list", HS_FIND_LIST)
        m.add("hs", "read members", max(1, ceil(members / HS_MEMBERS_PAGE)))
        m.add("hs", "read emails", ceil(members / HS_BATCH_READ))
        m.add("d365", "target list state", D_TARGET_STATE)
        m.add("d365", "lookup by email", ceil(members / D_LOOKUP_PER_CALL))
        m.add("d365", "add members and responses", ceil((members + 1) / D_BATCH))
    return m


RULES = {
    "d365_to_hs": f"""
  - name: bench
    from: {{connection: d365, campaign: "{CAMPAIGN}"}}
    to: {{connection: hs, list: "{HS_LIST}"}}
    mode: mirror
""",
    "hs_to_d365": f"""
  - name: bench
    from: {{connection: hs, list: "{HS_LIST}"}}
    to: {{connection: d365, campaign: "{CAMPAIGN}", list: "{D_LIST}", status: Interested}}
    match: {{prefer: contact, create_missing: skip}}
    mode: mirror
""",
}


@dataclass
class World:
    d: DynamicsSandbox
    hs: HubSpotSandbox
    engine: Engine
    connectors: dict[str, Connector]
    hs_list: str

    def sync(self) -> RunReport:
        report = self.engine.sync("bench")
        if report.status != "ok":
            raise RuntimeError(f"the benchmark rule ended {report.status}: {report.message}")
        return report

    def check(self, direction: str, members: int) -> None:
        """The first sync did the whole job: every member in the target (with a response, into Dynamics)."""
        if direction == "d365_to_hs":
            done, responses = len(self.hs.state.list_members(self.hs_list)), members
        else:
            (lst,) = [r for r in self.d.state.table("list").values() if r["listname"] == D_LIST]
            done = len(self.d.state.static_members(lst["listid"]))
            responses = len(self.d.state.table("campaignresponse"))
        if done != members or responses != members:
            raise RuntimeError(f"the first sync left {done} members and {responses} responses of {members}")


@contextmanager
def world(direction: str, members: int, limited: bool) -> Iterator[World]:
    """Both sandboxes seeded with ``members`` people, the client file, the connectors and the engine."""
    requests = LIMIT_REQUESTS[direction] if limited else 6000
    window = LIMIT_WINDOW if limited else 300.0
    with (
        tempfile.TemporaryDirectory(prefix="cb-bench-d365-") as tmp,
        DynamicsSandbox(limits=limited, requests=requests, window=window) as d,
        HubSpotSandbox(ten_second_limit=None, daily_limit=None, search_per_second=None) as hs,
    ):
        emails = [f"p{i:06d}@bench.example" for i in range(members)]
        campaign = d.state.add_campaign(CAMPAIGN)
        d_list = d.state.add_list(D_LIST, "contact", campaign=campaign)
        ids = [d.state.add_contact(e) for e in emails]
        hs_ids = hs.state.bulk_add_contacts(emails)
        hs_list = hs.state.add_list(HS_LIST, "MANUAL")
        if direction == "d365_to_hs":
            for rid in ids:
                d.state.add_member(d_list, rid)
        else:
            hs.state.add_list_members(hs_list, hs_ids)
        creds = d.credentials()
        text = f"""
client: bench
state: sqlite:///{Path(tmp) / "state.db"}
connections:
  d365:
    type: dynamics
    url: {d.url}
    tenant_id: {creds["tenant_id"]}
    authority_host: {d.url}
    ca_bundle: {d.ca_bundle}
    api_budget: 100000000
    requests_per_window: {requests}
    window_seconds: {window}
    auth: {{method: client_secret, client_id: {creds["client_id"]}, client_secret: "${{D365_SECRET}}"}}
  hs:
    type: hubspot
    base_url: {hs.url}
    requests_per_10s: 1000000
    api_budget: 100000000
    auth: {{method: private_app, token: "${{HS_TOKEN}}"}}
rules:
{RULES[direction]}"""
        config = load_config_text(text, "bench.yaml", {"D365_SECRET": creds["client_secret"], "HS_TOKEN": hs.token})
        store = Store(config.state_url)
        conns: dict[str, Connector] = {
            "d365": DynamicsConnector("d365", config.connections["d365"]),
            "hs": HubSpotConnector("hs", config.connections["hs"]),
        }
        try:
            yield World(d, hs, Engine(config, store, conns), conns, hs_list)
        finally:
            for c in conns.values():
                c.close()
            store.close()


def calls(members: int) -> dict[str, Any]:
    """First sync and an idle rerun of each rule: calls per system against the minimum."""
    results = []
    for direction in DIRECTIONS:
        with world(direction, members, limited=False) as w:
            started = time.perf_counter()
            first = w.sync()
            seconds = time.perf_counter() - started
            w.check(direction, members)
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
    return {"benchmark": "dynamics calls", "members": members, "machine": machine(), "results": results}


def limit_seconds(dataverse_calls: int, limit: int, window: float) -> float:
    """The time a sliding limit of ``limit`` requests per ``window`` alone imposes on ``dataverse_calls``: the
    first ``limit`` go at once, each further ``limit`` waits for the window to roll on."""
    return max(0, ceil(dataverse_calls / limit) - 1) * window


def limits(members: int) -> dict[str, Any]:
    """A first sync of each rule under the (scaled) service protection limit, against the limit's own time."""
    results = []
    for direction in DIRECTIONS:
        with world(direction, members, limited=True) as w:
            started = time.perf_counter()
            report = w.sync()
            seconds = time.perf_counter() - started
            w.check(direction, members)
            conn = w.connectors["d365"]
            assert isinstance(conn, DynamicsConnector)
            usage = conn.usage().by_endpoint
            refused = w.d.limits.refused
        dataverse = sum(n for endpoint, n in usage.items() if not endpoint.startswith("entra."))
        bound = limit_seconds(dataverse, LIMIT_REQUESTS[direction], LIMIT_WINDOW)
        results.append(
            {
                "rule": direction,
                "label": LABELS[direction],
                "members": members,
                "limit": f"{LIMIT_REQUESTS[direction]} per {LIMIT_WINDOW:.0f} s",
                "dataverse_calls": dataverse,
                "seconds": round(seconds, 3),
                "limit_seconds": bound,
                "ratio": round(seconds / bound, 3) if bound else None,
                "refused_429": refused,
                "calls": {SYSTEMS[k]: v for k, v in report.api_calls.items()},
            }
        )
    return {"benchmark": "dynamics limits", "members": members, "machine": machine(), "results": results}


_console = Console(width=140)


@click.group("dynamics")
def main() -> None:
    """Dynamics 365 ⇄ HubSpot benchmarks against the Dataverse and HubSpot sandboxes."""


@main.command("calls")
@click.option("--members", type=click.IntRange(min=1), default=10_000, show_default=True)
def calls_command(members: int) -> None:
    """API calls of a first sync and of an idle rerun, against the minimum."""
    result = calls(members)
    table = Table(title=f"API calls, first sync of {members:,} members (Dynamics 365)")
    for col in ("rule", "system", "calls", "minimum", "ratio", "idle run", "seconds"):
        table.add_column(col, justify="left" if col in ("rule", "system") else "right")
    for r in result["results"]:
        for system, s in r["systems"].items():
            ratio = s["ratio"]
            mark = "" if ratio is None or ratio <= RATIO_GOAL else " ✗"
            idle = f"{s['idle_calls']}{'' if s['idle_calls'] <= IDLE_GOAL else ' ✗'}"
            table.add_row(
                r["label"], system, str(s["calls"]), str(s["minimum"]), f"{ratio}{mark}", idle, f"{r['seconds']:.1f}"
            )
    table.caption = f"goals: ratio ≤ {RATIO_GOAL}, idle run ≤ {IDLE_GOAL} calls per system"
    _console.print(table)
    m = result["machine"]
    _console.print(f"machine: {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}", style="dim")


@main.command("limits")
@click.option("--members", type=click.IntRange(min=1), default=10_000, show_default=True)
def limits_command(members: int) -> None:
    """A first sync under Dataverse's service protection limit (scaled), against the limit's own time."""
    result = limits(members)
    table = Table(title=f"First sync of {members:,} members under the service protection limit")
    for col in ("rule", "limit", "Dataverse calls", "seconds", "limit alone (s)", "ratio", "429s"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    for r in result["results"]:
        ratio = r["ratio"]
        mark = "" if ratio is None or ratio <= LIMIT_GOAL else " ✗"
        table.add_row(
            r["label"], r["limit"], str(r["dataverse_calls"]), f"{r['seconds']:.1f}", f"{r['limit_seconds']:.0f}",
            f"{ratio}{mark}", str(r["refused_429"]),
        )  # fmt: skip
    table.caption = f"goal: ratio ≤ {LIMIT_GOAL}"
    _console.print(table)
    m = result["machine"]
    _console.print(f"machine: {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}", style="dim")


if __name__ == "__main__":
    main()
