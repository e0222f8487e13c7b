"""What the commands print: the consoles, the progress bar, and every table and report.

Human output is rich tables on standard output; progress and problems go to standard error, so a script
reading ``--json`` (or ``--csv``) gets only the data on standard output.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from campaign_bridge.reconciler.report import FindingKind, ReconcileReport
from campaign_bridge.sync.plan import RunReport

# Scripts and CI get wide, uncoloured tables rather than wrapping at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

#: Rows of findings printed per rule in a reconcile table (``--json`` has them all).
TABLE_ROWS = 50
#: Fields of a conflict in ``conflicts --json`` and ``--csv``, in this order.
CONFLICT_FIELDS = ["at", "rule", "kind", "email", "container", "detail", "run_id"]


class Report(Protocol):
    """What every report of a rule (a run's, a reconcile's) offers its printers."""

    @property
    def status(self) -> str: ...

    def as_json(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Report)


def print_json(data: Any) -> None:
    """``--json`` output: indented, and anything JSON has no type for (times) as its ``str``."""
    click.echo(json.dumps(data, indent=2, default=str))


def print_reports(reports: Sequence[R], as_json: bool, show: Callable[[R], None]) -> None:
    """Every report as one JSON list, or each as ``show`` prints it."""
    if as_json:
        print_json([r.as_json() for r in reports])
    else:
        for r in reports:
            show(r)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` for the engine: one bar per stage on standard error, or nothing."""
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


def print_run_report(r: RunReport) -> None:
    """A plan's or a sync's report: counts planned (and done), the first items of a plan, conflicts."""
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


def print_reconcile_report(r: ReconcileReport) -> None:
    """A reconcile's report: findings by kind (and repairs), the first findings, what is in sync."""
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


def print_runs(rows: Iterable[dict[str, Any]]) -> None:
    """``runs``: one line per run, newest first."""
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


def print_conflicts(rows: list[dict[str, Any]], *, as_json: bool, as_csv: bool) -> None:
    """``conflicts``: the conflict log as JSON, CSV or a table."""
    if as_json:
        print_json([{k: r[k] for k in CONFLICT_FIELDS} for r in rows])
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CONFLICT_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table(show_edge=False)
        for col in ("at", "rule", "kind", "email", "why"):
            table.add_column(col)
        for r in rows:
            table.add_row(f"{r['at']:%Y-%m-%d %H:%M}", r["rule"], r["kind"], r["email"] or "", r["detail"])
        out.print(table)


def print_explanation(result: list[dict[str, Any]]) -> None:
    """``explain``: each rule's verdict on the person, then its latest decisions about them."""
    for entry in result:
        out.print(f"[bold]{entry['rule']}[/bold]: {entry['verdict']}")
        for d in entry["decisions"]:
            out.print(f"    {d['at'][:19] if d['at'] else ''}  {d['kind']:<18} {d['detail']}")
