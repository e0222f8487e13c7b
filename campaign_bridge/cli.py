"""The ``campaign-bridge`` command line.

Exit codes: 0 done; 1 a rule failed or stopped (quota, transient errors left items to retry);
2 the configuration is invalid; 3 a plan was held by its safety limit; 4 the rule's lease is held.
Human output is tables; ``--json`` output is stable for scripts.
"""

from __future__ import annotations

import csv
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from campaign_bridge.config.loader import load_config
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.errors import CampaignBridgeError, ConfigError, FatalError, LeaseHeldError
from campaign_bridge.reconciler.cli import reconcile
from campaign_bridge.sandbox.serve import sandbox
from campaign_bridge.service.command import serve
from campaign_bridge.sync.plan import RunReport

# Scripts and CI get wide, uncoloured tables rather than wrapping at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

EXIT_FAILED, EXIT_CONFIG, EXIT_HELD, EXIT_LEASE = 1, 2, 3, 4


def _load(path: str) -> ClientConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        raise SystemExit(EXIT_CONFIG) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="campaign-bridge")
def main() -> None:
    """Keep campaign membership consistent between CRM and marketing-automation systems."""


@main.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--offline", is_flag=True, help="Check the file only; do not ask the systems about containers.")
def validate(config_file: str, offline: bool) -> None:
    """Check a client file; print every problem as FILE:LINE: message (exit 2)."""
    config = _load(config_file)
    if not offline:
        from campaign_bridge.sync.runner import check_live

        try:
            check_live(config, config.rule_lines)
        except ConfigError as exc:
            for p in exc.problems:
                click.echo(str(p), err=True)
            raise SystemExit(EXIT_CONFIG) from None
        except CampaignBridgeError as exc:
            click.echo(f"{config_file}: cannot check the live systems: {exc}", err=True)
            raise SystemExit(EXIT_CONFIG) from None
    checked = "file" if offline else "file and live containers"
    click.echo(
        f"{config_file}: valid ({len(config.rules)} rules, {len(config.connections)} connections; checked {checked})"
    )


@main.command()
def schema() -> None:
    """Print the JSON Schema of a client file (for editors)."""
    from campaign_bridge.config.schema import client_file_schema

    click.echo(json.dumps(client_file_schema(), indent=2, sort_keys=True))


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    if not enabled:
        yield lambda stage, done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        console=err,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def _run(config_file: str, rule: str | None, as_json: bool, full: bool, dry: bool) -> None:
    from campaign_bridge.sync.engine import Engine
    from campaign_bridge.sync.runner import open_client

    config = _load(config_file)
    names = [config.rule(rule).name] if rule else [r.name for r in config.rules if r.enabled]
    reports: list[RunReport] = []
    code = 0
    # SIGTERM (a deploy, systemd, Kubernetes) finishes the batch in flight, then stops: resumable.
    stop = threading.Event()
    handle = not dry and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if handle else None
    with open_client(config) as client, _progress(not as_json and err.is_terminal) as progress:
        engine = Engine(config, client.store, client.connectors, progress=progress, should_stop=stop.is_set)
        for name in names:
            if stop.is_set():
                reports.append(RunReport(name, "sync", status="stopped", message="not run: stopped on request"))
                code = max(code, EXIT_FAILED)
                continue
            try:
                report = engine.plan(name, full=full) if dry else engine.sync(name, full=full)
            except LeaseHeldError as exc:
                report = RunReport(name, "plan" if dry else "sync", status="skipped", message=str(exc))
                code = max(code, EXIT_LEASE)
            except FatalError as exc:
                report = RunReport(name, "plan" if dry else "sync", status="failed", message=str(exc))
                code = max(code, EXIT_FAILED)
            reports.append(report)
            if report.status == "held":
                code = max(code, EXIT_HELD)
            elif report.status in ("failed", "stopped", "partial"):
                code = max(code, EXIT_FAILED)
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in reports], indent=2, default=str))
    else:
        for r in reports:
            _print_report(r)
    raise SystemExit(code)


def _print_report(r: RunReport) -> None:
    done = r.mode == "sync"
    out.print(f"[bold]rule {r.rule}[/bold]: {r.status} ({'full' if r.full_read else 'incremental'} read of {r.read})")
    table = Table(show_edge=False)
    table.add_column("change")
    table.add_column("planned", justify="right")
    if done:
        table.add_column("done", justify="right")
    rows = [
        ("adds", len(r.adds), r.counts.get("added", 0)),
        ("status changes", len(r.status_changes), r.counts.get("status_changed", 0)),
        ("removals", sum(1 for i in r.removals if i.owned), r.counts.get("removed", 0)),
        ("already members", None, r.counts.get("already_member", 0)),
        ("rejected", None, r.counts.get("rejected", 0)),
        ("failed (will retry)", None, r.counts.get("failed", 0)),
    ]
    for label, planned, did in rows:
        if planned is None and not did:
            continue
        cells = [label, "" if planned is None else str(planned)]
        if done:
            cells.append(str(did))
        table.add_row(*cells)
    out.print(table)
    if not done:
        for item in [*r.adds, *r.status_changes, *(i for i in r.removals if i.owned)][:20]:
            status = f" → {item.status}" if item.status else ""
            out.print(f"  {item.action.value:<10} {item.email or item.person_key}{status}")
    if r.conflicts:
        ct = Table(title=f"conflicts ({len(r.conflicts)})", title_justify="left", show_edge=False)
        ct.add_column("kind")
        ct.add_column("email")
        ct.add_column("why")
        for d in r.conflicts[:50]:
            ct.add_row(d.kind.value, d.email or "", d.detail)
        out.print(ct)
    calls = ", ".join(f"{k}={v}" for k, v in r.api_calls.items()) or "none"
    out.print(f"  API calls: {calls}; {r.timings.get('total', 0):.2f}s" + (f"\n  {r.message}" if r.message else ""))


_rule_opt = click.option("--rule", "-r", help="Only this rule.")
_json_opt = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
_full_opt = click.option("--full", is_flag=True, help="Read the source fully (sees removals).")


@main.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@_rule_opt
@_json_opt
@_full_opt
def plan(config_file: str, rule: str | None, as_json: bool, full: bool) -> None:
    """Dry run: the adds, removals and status changes, and the conflicts it would log."""
    _run(config_file, rule, as_json, full, dry=True)


@main.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@_rule_opt
@_json_opt
@_full_opt
def sync(config_file: str, rule: str | None, as_json: bool, full: bool) -> None:
    """Run rules once now."""
    _run(config_file, rule, as_json, full, dry=False)


_config_opt = click.option(
    "--config",
    "-c",
    "config_file",
    envvar="CAMPAIGN_BRIDGE_CONFIG",
    required=True,
    type=click.Path(dir_okay=False),
    help="The client file (or set CAMPAIGN_BRIDGE_CONFIG).",
)


def _store(config_file: str) -> tuple[ClientConfig, Any]:
    from campaign_bridge.sync.store.store import Store

    config = _load(config_file)
    return config, Store(config.state_url)


@main.command()
@_config_opt
@_rule_opt
@click.option("--limit", default=20, show_default=True)
@_json_opt
def runs(config_file: str, rule: str | None, limit: int, as_json: bool) -> None:
    """Recent runs: status, counts, API calls, timings."""
    _, store = _store(config_file)
    rows = store.runs(limit=limit, rule=rule)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(show_edge=False)
    for col in ("id", "rule", "mode", "status", "started", "adds", "removals", "conflicts", "API calls", "error"):
        table.add_column(col)
    for r in rows:
        c = r["counts"] or {}
        table.add_row(
            str(r["id"]),
            r["rule"],
            r["mode"],
            r["status"],
            f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
            str(c.get("added", 0)),
            str(c.get("removed", 0)),
            str(c.get("conflicts", "")),
            ", ".join(f"{k}={v}" for k, v in (r["api_calls"] or {}).items()),
            (r["error"] or "")[:80],
        )
    out.print(table)


@main.command()
@_config_opt
@_rule_opt
@click.option("--kind", "-k", help="Only this kind (exclusive_target, status_collision, …).")
@click.option("--limit", default=200, show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV on standard output.")
@_json_opt
def conflicts(config_file: str, rule: str | None, kind: str | None, limit: int, as_csv: bool, as_json: bool) -> None:
    """The conflict log: every record not applied exactly as its rule says, and why."""
    _, store = _store(config_file)
    rows = store.decisions(rule=rule, kind=kind, conflicts_only=True, limit=limit)
    fields = ["at", "rule", "kind", "email", "container", "detail", "run_id"]
    if as_json:
        click.echo(json.dumps([{k: r[k] for k in fields} for r in rows], indent=2, default=str))
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table(show_edge=False)
        for col in ("at", "rule", "kind", "email", "why"):
            table.add_column(col)
        for r in rows:
            table.add_row(f"{r['at']:%Y-%m-%d %H:%M}", r["rule"], r["kind"], r["email"] or "", r["detail"])
        out.print(table)


@main.command()
@click.argument("email")
@_config_opt
@_json_opt
def explain(email: str, config_file: str, as_json: bool) -> None:
    """Why is (or isn't) this person in each rule's target?"""
    from campaign_bridge.sync.runner import explain as explain_person

    config, store = _store(config_file)
    result = explain_person(store, config, email)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    for entry in result:
        out.print(f"[bold]{entry['rule']}[/bold]: {entry['verdict']}")
        for d in entry["decisions"]:
            out.print(f"    {d['at'][:19] if d['at'] else ''}  {d['kind']:<18} {d['detail']}")


@main.command()
@_config_opt
@_rule_opt
def retry(config_file: str, rule: str | None) -> None:
    """Requeue dead-lettered and rejected items for the next run."""
    config, store = _store(config_file)
    for name in [rule] if rule else [r.name for r in config.rules]:
        n = store.requeue(name)
        click.echo(f"{name}: {n} items requeued")


@main.command()
@click.option("--dir", "directory", default="campaign-bridge-demo", show_default=True, type=click.Path(file_okay=False))
@_json_opt
def demo(directory: str, as_json: bool) -> None:
    """Seed a small company, write its client file, and run its rules end to end."""
    from campaign_bridge.demo import run_demo

    result = run_demo(Path(directory), progress=None if as_json else out.print)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    code = 0 if all(r["status"] in ("ok",) for r in result["runs"]) else EXIT_FAILED
    raise SystemExit(code)


# Commands that live with their parts.
main.add_command(reconcile)
main.add_command(sandbox)
main.add_command(serve)


if __name__ == "__main__":  # pragma: no cover
    main()
