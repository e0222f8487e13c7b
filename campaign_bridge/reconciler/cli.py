"""``campaign-bridge reconcile CONFIG [--rule R] [--repair] [--json]``.

Exit codes as for ``sync``: 0 done (drift or not: the report says what was found), 1 a rule failed or a
repair did not go through, 2 invalid configuration, 4 a sync of the rule holds its lease.
"""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from campaign_bridge.errors import FatalError, LeaseHeldError
from campaign_bridge.reconciler.report import FindingKind, ReconcileReport

#: Rows of findings printed per rule in the table (``--json`` has them all).
TABLE_ROWS = 50


@click.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--rule", "-r", help="Only this rule.")
@click.option("--repair", is_flag=True, help="Fix what the rules' policies allow (never removes members).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reconcile(config_file: str, rule: str | None, repair: bool, as_json: bool) -> None:
    """Compare each rule's source and target in full with its ledger; report drift and, with --repair, fix it."""
    # campaign_bridge.cli imports this module at its end: take its helpers when the command runs.
    from campaign_bridge.cli import EXIT_FAILED, EXIT_LEASE, _load, out
    from campaign_bridge.reconciler.run import Reconciler
    from campaign_bridge.sync.runner import open_client

    config = _load(config_file)
    names = [config.rule(rule).name] if rule else [r.name for r in config.rules if r.enabled]
    reports: list[ReconcileReport] = []
    code = 0
    with open_client(config) as client:
        reconciler = Reconciler(config, client.store, client.connectors)
        for name in names:
            try:
                report = reconciler.reconcile(name, repair=repair)
            except LeaseHeldError as exc:
                report = ReconcileReport(name, repair, status="skipped", message=str(exc))
                code = max(code, EXIT_LEASE)
            except FatalError as exc:
                report = ReconcileReport(name, repair, status="failed", message=str(exc))
                code = max(code, EXIT_FAILED)
            if report.status in ("failed", "stopped", "partial"):
                code = max(code, EXIT_FAILED)
            reports.append(report)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in reports], indent=2, default=str))
    else:
        for r in reports:
            print_report(r, out)
    raise SystemExit(code)


def print_report(r: ReconcileReport, out: Console) -> None:
    verb = "reconcile --repair" if r.repair else "reconcile"
    where = f" → {r.target}" if r.target else ""
    out.print(
        f"[bold]rule {r.rule}[/bold]{where}: {r.status} ({verb}; read {r.source_read} in the source, "
        f"{r.target_read} in the target)"
    )
    summary = Table(show_edge=False)
    summary.add_column("finding")
    summary.add_column("found", justify="right")
    if r.repair:
        summary.add_column("repaired", justify="right")
    for kind in FindingKind:
        found = r.of(kind)
        cells = [kind.value.replace("_", " "), str(len(found))]
        if r.repair:
            done = sum(1 for f in found if f.action is not None and f.action.value not in ("failed", "none"))
            cells.append("never touched" if kind is FindingKind.UNOWNED else str(done))
        summary.add_row(*cells)
    out.print(summary)
    if r.findings:
        table = Table(show_edge=False)
        for col in ("kind", "email", "record", "what", *(["repair"] if r.repair else [])):
            table.add_column(col)
        for f in r.findings[:TABLE_ROWS]:
            cells = [f.kind.value, f.email or "", f.record or "", f.detail]
            if r.repair:
                action = f.action.value if f.action else ""
                cells.append(f"{action}: {f.outcome}" if f.outcome else action)
            table.add_row(*cells)
        out.print(table)
        if len(r.findings) > TABLE_ROWS:
            out.print(f"  … and {len(r.findings) - TABLE_ROWS} more (--json lists them all)")
    in_sync = r.counts.get("in_sync", 0) + r.counts.get("adopted", 0)
    calls = ", ".join(f"{k}={v}" for k, v in r.api_calls.items()) or "none"
    line = f"  in sync: {in_sync}; waiting for the next sync: {r.counts.get('pending', 0)}; API calls: {calls}"
    out.print(line + (f"\n  {r.message}" if r.message else ""))
