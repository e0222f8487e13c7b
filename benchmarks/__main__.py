"""``python -m benchmarks calls|throughput|scale``: print a table, or the JSON with ``--json``; ``--out``
also writes the JSON to a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from . import dynamics, runs

_console = Console(width=140)


def _emit(result: dict[str, Any], as_json: bool, out: Path | None, table: Table) -> None:
    text = json.dumps(result, indent=2, default=str)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    if as_json:
        click.echo(text)
        return
    m = result["machine"]
    _console.print(table)
    _console.print(f"machine: {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}", style="dim")


def _directions(value: str) -> tuple[str, ...]:
    return runs.DIRECTIONS if value == "both" else (value,)


_json = click.option("--json", "as_json", is_flag=True, help="Print the JSON instead of the table.")
_out = click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON here.")
_rule = click.option(
    "--rule",
    type=click.Choice(["both", *runs.DIRECTIONS]),
    default="both",
    show_default=True,
    help="Which rule to run.",
)


@click.group()
def main() -> None:
    """Benchmarks of campaign-bridge against the Salesforce and HubSpot sandboxes (real clients)."""


@main.command()
@click.option("--members", type=click.IntRange(min=1), default=1000, show_default=True)
@_rule
@_json
@_out
def calls(members: int, rule: str, as_json: bool, out: Path | None) -> None:
    """API calls of a first sync and of an idle second run, against the minimum the APIs allow."""
    result = runs.calls(members, _directions(rule))
    table = Table(title=f"API calls, first sync of {members:,} members")
    for col in ("rule", "system", "calls", "minimum", "ratio", "idle run"):
        table.add_column(col, justify="left" if col in ("rule", "system") else "right")
    for r in result["results"]:
        for system, s in r["systems"].items():
            ratio = s["ratio"]
            mark = "" if ratio is None or ratio <= runs.RATIO_GOAL else " ✗"
            idle = f"{s['idle_calls']}{'' if s['idle_calls'] <= runs.IDLE_GOAL else ' ✗'}"
            table.add_row(r["label"], system, str(s["calls"]), str(s["minimum"]), f"{ratio}{mark}", idle)
    table.caption = f"goals: ratio ≤ {runs.RATIO_GOAL}, idle run ≤ {runs.IDLE_GOAL} calls per system"
    _emit(result, as_json, out, table)


@main.command()
@click.option("--members", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--limits", type=click.Choice(["on", "off"]), default="off", show_default=True)
@click.option("--profile/--no-profile", default=True, show_default=True, help="Limits off: also a profiled run.")
@_rule
@_json
@_out
def throughput(members: int, limits: str, profile: bool, rule: str, as_json: bool, out: Path | None) -> None:
    """Initial sync speed, and where the time goes (limits off) or against the limits' own bound (on)."""
    on = limits == "on"
    result = runs.throughput(members, on, _directions(rule), profile=profile)
    table = Table(title=f"Initial sync of {members:,} members, limits {limits}")
    columns = ["rule", "seconds", "members/s", "calls sf/hs"]
    columns += (
        ["limit alone (s)", "ratio"] if on else ["engine", "store", "connectors", "client lib", "wait", "sandbox"]
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "rule" else "right")
    for r in result["results"]:
        calls_text = f"{r['calls'].get('salesforce', 0)}/{r['calls'].get('hubspot', 0)}"
        cells = [r["label"], f"{r['seconds']:.1f}", f"{r['members_per_second']:,.0f}", calls_text]
        if on:
            ratio = r["limit_ratio"]
            cells += [f"{r['limit_seconds']:.0f}", "limit does not bind" if ratio is None else f"{ratio}"]
        else:
            share = r.get("profile_share")
            cells += [
                f"{share[p]:.0%}" if share else "-"
                for p in ("engine", "store", "connectors", "client library", "waiting for the sandbox")
            ]
            cells.append(f"{r['sandbox_share']:.0%} cpu")
        table.add_row(*cells)
    table.caption = (
        f"limits: HubSpot {runs.HUBSPOT_LIMIT}/10 s, Salesforce {runs.SALESFORCE_DAILY:,}/day; goal ratio ≤ {runs.LIMIT_GOAL}"
        if on
        else "share of the benchmark process's profiled time; sandbox: its process's CPU over the run's wall time"
    )
    _emit(result, as_json, out, table)


@main.command()
@click.option("--members", type=click.IntRange(min=2), default=1_000_000, show_default=True)
@_json
@_out
def scale(members: int, as_json: bool, out: Path | None) -> None:
    """Peak memory of the Salesforce → HubSpot rule, and an incremental run after 1% changed."""
    result = runs.scale(members)
    table = Table(title=f"State at scale: {members:,} members")
    for col in ("first sync (s)", "peak memory (MiB)", "changed", "incremental (s)", "incremental calls sf/hs"):
        table.add_column(col, justify="right")
    for r in result["results"]:
        inc = r["incremental_calls"]
        table.add_row(
            f"{r['first_seconds']:.1f}",
            f"{r['peak_rss_mib']:,.0f}",
            f"{r['changed']:,}",
            f"{r['incremental_seconds']:.1f}",
            f"{inc.get('salesforce', 0)}/{inc.get('hubspot', 0)}",
        )
    table.caption = "goals: peak memory ≤ 1024 MiB; incremental run in seconds"
    _emit(result, as_json, out, table)


@main.command("pardot")
@click.option("--members", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--limits", type=click.Choice(["on", "off"]), default="off", show_default=True)
@click.option("--read-export", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True)
@_json
@_out
def pardot_calls(members: int, limits: str, read_export: str, as_json: bool, out: Path | None) -> None:
    """Account Engagement: calls against the minimum (limits off), or time against v5's 5-request cap (on)."""
    from . import pardot

    if limits == "on":
        result = pardot.limits_on(members)
        table = Table(title=f"Salesforce → Pardot, {members:,} members, limits on")
        for col in ("rule", "seconds", "pardot calls", "limit alone (s)", "ratio", "refused"):
            table.add_column(col, justify="left" if col == "rule" else "right")
        for r in result["results"]:
            mark = "" if r["ratio"] is None or r["ratio"] <= pardot.LIMIT_GOAL else " ✗"
            table.add_row(r["label"], f"{r['seconds']:.1f}", str(r["pardot_calls"]), f"{r['limit_seconds']:.1f}",
                          f"{r['ratio']}{mark}", str(r["refused_by_cap"]))  # fmt: skip
        table.caption = f"5 requests in flight, {pardot.LATENCY}s per request; goal ratio ≤ {pardot.LIMIT_GOAL}"
    else:
        result = pardot.calls(members, read_export=read_export)
        table = Table(title=f"API calls, first sync of {members:,} members (read_export: {read_export})")
        for col in ("rule", "system", "calls", "minimum", "ratio", "idle run", "full re-read"):
            table.add_column(col, justify="left" if col in ("rule", "system") else "right")
        for r in result["results"]:
            for system, s in r["systems"].items():
                ratio = s["ratio"]
                mark = "" if ratio is None or ratio <= pardot.RATIO_GOAL else " ✗"
                idle = f"{s['idle_calls']}{'' if s['idle_calls'] <= pardot.IDLE_GOAL else ' ✗'}"
                table.add_row(r["label"], system, str(s["calls"]), str(s["minimum"]), f"{ratio}{mark}", idle,
                              str(s["full_reread_calls"]))  # fmt: skip
            d = r["direction"]
            mark = "" if d["ratio"] <= pardot.RATIO_GOAL else " ✗"
            table.add_row(r["label"], "both", str(d["calls"]), str(d["minimum"]), f"{d['ratio']}{mark}", "", "")
        table.caption = (
            f"goals: ratio ≤ {pardot.RATIO_GOAL}, idle run ≤ {pardot.IDLE_GOAL} calls per system; "
            "full re-read: the daily full read of the unchanged source"
        )
    _emit(result, as_json, out, table)


main.add_command(dynamics.main)  # python -m benchmarks dynamics calls|limits


@main.command("marketo")
@click.option("--members", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--limit-members", type=click.IntRange(min=1), default=60_000, show_default=True,
              help="Members of the limits-on runs (enough calls for 100 per 20 s to bind).")  # fmt: skip
@click.option("--limits/--no-limits", default=True, show_default=True, help="Also run with Marketo's limits on.")
@_json
@_out
def marketo_calls(members: int, limit_members: int, limits: bool, as_json: bool, out: Path | None) -> None:
    """Marketo rules: calls of a first sync and an idle run against the minimum; time under 100 calls / 20 s."""
    from . import marketo

    result: dict[str, Any] = {"benchmark": "marketo", "machine": runs.machine(), "calls": marketo.calls(members)}
    table = Table(title=f"Marketo: API calls, first sync of {members:,} members")
    for col in ("rule", "system", "calls", "minimum", "ratio", "idle run"):
        table.add_column(col, justify="left" if col in ("rule", "system") else "right")
    for r in result["calls"]:
        for system, s in r["systems"].items():
            ratio = s["ratio"]
            mark = "" if ratio is None or ratio <= marketo.RATIO_GOAL else " ✗"
            idle = f"{s['idle_calls']}{'' if s['idle_calls'] <= marketo.IDLE_GOAL else ' ✗'}"
            table.add_row(r["label"], system, str(s["calls"]), str(s["minimum"]), f"{ratio}{mark}", idle)
    table.caption = f"goals: ratio ≤ {marketo.RATIO_GOAL}, idle run ≤ {marketo.IDLE_GOAL} calls per system"
    if limits:
        result["limits"] = marketo.limited(limit_members)
    _emit(result, as_json, out, table)
    if limits and not as_json:
        lim = Table(title=f"Marketo limits on (100 calls / 20 s, 10 in flight), {limit_members:,} members")
        for col in (
            "rule",
            "seconds",
            "marketo calls",
            "limit alone (s)",
            "ratio",
            "source's first member (s)",
            "ratio from it",
            "no limit (s)",
            "vs max",
            "refused",
        ):
            lim.add_column(col, justify="left" if col == "rule" else "right")
        for r in result["limits"]:
            ratio = "limit does not bind" if r["ratio"] is None else str(r["ratio"])
            lim.add_row(r["label"], f"{r['seconds']:.1f}", str(r["marketo_calls"]), f"{r['limit_seconds']:.0f}",
                        ratio, f"{r['source_first_seconds']:.1f}", str(r["ratio_from_source"] or "-"),
                        f"{r['unpaced_seconds']:.1f}", str(r["ratio_to_floor"]),
                        str(r["refused"] or "none"))  # fmt: skip
        lim.caption = (
            f"goal: ratio ≤ {marketo.LIMIT_GOAL}; ratio from it: seconds over the source's first member plus the "
            "limit alone (no call that needs a member can go sooner); no limit: the same sync unpaced, limits off; "
            "vs max: seconds over the larger of the two bounds"
        )
        _console.print(lim)


if __name__ == "__main__":
    main()
