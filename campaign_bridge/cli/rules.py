"""Commands that check or run a client file's rules: ``validate``, ``schema``, ``plan``, ``sync``,
``reconcile`` and ``demo``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from campaign_bridge.cli.options import full_opt, json_opt, rule_opt
from campaign_bridge.cli.output import err, out, print_json, print_reconcile_report, print_run_report, progress_bar
from campaign_bridge.cli.running import (
    EXIT_CONFIG,
    EXIT_FAILED,
    RunOne,
    finish,
    load_or_exit,
    run_rules,
    stop_on_sigterm,
)
from campaign_bridge.errors import CampaignBridgeError, ConfigError
from campaign_bridge.reconciler.report import ReconcileReport
from campaign_bridge.sync.client import Client
from campaign_bridge.sync.plan import RunReport


@click.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--offline", is_flag=True, help="Check the file only; do not ask the systems about containers.")
def validate(config_file: str, offline: bool) -> None:
    """Check a client file; print every problem as FILE:LINE: message (exit 2)."""
    config = load_or_exit(config_file)
    if not offline:
        from campaign_bridge.sync.live import check_live

        try:
            for note in check_live(config, config.rule_lines):
                click.echo(f"note: {note}")
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


@click.command()
def schema() -> None:
    """Print the JSON Schema of a client file (for editors)."""
    from campaign_bridge.config.schema import client_file_schema

    click.echo(json.dumps(client_file_schema(), indent=2, sort_keys=True))


def _run(config_file: str, rule: str | None, as_json: bool, full: bool, dry: bool) -> None:
    from campaign_bridge.sync.engine import Engine

    stop = threading.Event()

    @contextmanager
    def engine(client: Client) -> Iterator[RunOne[RunReport]]:
        with progress_bar(not as_json and err.is_terminal) as progress:
            e = Engine(client.config, client.store, client.connectors, progress=progress, should_stop=stop.is_set)
            yield (lambda name: e.plan(name, full=full)) if dry else (lambda name: e.sync(name, full=full))

    def not_run(name: str, status: str, message: str) -> RunReport:
        return RunReport(name, "plan" if dry else "sync", status=status, message=message)

    # A plan writes nothing, so SIGTERM may end it at once; a sync finishes its batch (resumable).
    with stop_on_sigterm(stop, enabled=not dry):
        reports, code = run_rules(config_file, rule, engine, not_run, stop=stop)
    finish(reports, code, as_json=as_json, show=print_run_report)


@click.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@rule_opt
@json_opt
@full_opt
def plan(config_file: str, rule: str | None, as_json: bool, full: bool) -> None:
    """Dry run: the adds, removals and status changes, and the conflicts it would log."""
    _run(config_file, rule, as_json, full, dry=True)


@click.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@rule_opt
@json_opt
@full_opt
def sync(config_file: str, rule: str | None, as_json: bool, full: bool) -> None:
    """Run rules once now."""
    _run(config_file, rule, as_json, full, dry=False)


@click.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@rule_opt
@click.option("--repair", is_flag=True, help="Fix what the rules' policies allow (never removes members).")
@json_opt
def reconcile(config_file: str, rule: str | None, repair: bool, as_json: bool) -> None:
    """Compare each rule's source and target in full with its ledger; report drift and, with --repair, fix it."""
    # Exit codes as for sync (the docstring above is the --help text): 0 done, drift or not (the report
    # says what was found); 1 a rule failed or a repair did not go through; 2 invalid configuration;
    # 4 a sync of the rule holds its lease.
    from campaign_bridge.reconciler.run import Reconciler

    @contextmanager
    def reconciler(client: Client) -> Iterator[RunOne[ReconcileReport]]:
        r = Reconciler(client.config, client.store, client.connectors)
        yield lambda name: r.reconcile(name, repair=repair)

    def not_run(name: str, status: str, message: str) -> ReconcileReport:
        return ReconcileReport(name, repair, status=status, message=message)

    reports, code = run_rules(config_file, rule, reconciler, not_run)
    finish(reports, code, as_json=as_json, show=print_reconcile_report)


@click.command()
@click.option(
    "--dir",
    "directory",
    default=None,
    type=click.Path(file_okay=False),
    help="The demo's folder.  [default: campaign-bridge-demo, or campaign-bridge-demo-CRM-MA for another pair]",
)
@click.option("--crm", default="salesforce", show_default=True, help="The CRM sandbox to run the demo on.")
@click.option("--ma", default="hubspot", show_default=True, help="The marketing-automation sandbox to run it on.")
@json_opt
def demo(directory: str | None, crm: str, ma: str, as_json: bool) -> None:
    """Seed a small company, write its client file, and run its rules end to end."""
    from campaign_bridge.demo import DemoError, Pair, run_demo

    try:
        result = run_demo(
            None if directory is None else Path(directory), progress=None if as_json else out.print, pair=Pair(crm, ma)
        )
    except DemoError as e:
        raise click.UsageError(str(e)) from None
    if as_json:
        print_json(result)
    code = 0 if all(r["status"] in ("ok",) for r in result["runs"]) else EXIT_FAILED
    raise SystemExit(code)
