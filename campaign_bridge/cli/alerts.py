"""``campaign-bridge alerts``: ``test FILE`` sends a test alert to every target of a client file's
``alerts:``; ``status FILE`` shows the alerts recorded in its state store.

Each target is named by its place in the file and its service (``target 2 (E-Mail)``), never by its URL;
why a delivery failed is Apprise's word for it, with every secret of the file masked.
``test`` exits 0 when every target took the alert, 1 when any did not, 2 when the file is invalid or has
no alerts; ``status`` opens the store read-only, like ``runs``.
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from campaign_bridge.alerts import send_test
from campaign_bridge.alerts.delivery import Target
from campaign_bridge.cli.options import json_opt
from campaign_bridge.cli.output import out, print_json
from campaign_bridge.cli.running import EXIT_CONFIG, EXIT_FAILED, load_or_exit, open_store_or_exit, store_errors_exit


@click.group()
def alerts() -> None:
    """Alerts: who is told when a rule needs a person (the client file's alerts: section)."""


@alerts.command("test")
@click.argument("config_file", metavar="FILE", type=click.Path(dir_okay=False))
@json_opt
def test(config_file: str, as_json: bool) -> None:
    """Send a test alert to every target of FILE's alerts: section."""
    config = load_or_exit(config_file)
    if config.alerts is None:
        click.echo(f"{config_file}: no alerts: section; docs/alerts.md shows how to write one", err=True)
        raise SystemExit(EXIT_CONFIG)
    deliveries = send_test(config)
    if as_json:
        print_json([{"target": d.target, "delivered": d.error is None, "error": d.error} for d in deliveries])
    else:
        for d in deliveries:
            click.echo(f"{d.target}: " + ("delivered" if d.error is None else f"NOT delivered: {d.error}"))
    if any(d.error is not None for d in deliveries):
        raise SystemExit(EXIT_FAILED)


@alerts.command("status")
@click.argument("config_file", metavar="FILE", type=click.Path(dir_okay=False))
@json_opt
def status(config_file: str, as_json: bool) -> None:
    """The alerts recorded for FILE's client: firing or resolved, which targets were told, the last error."""
    config = load_or_exit(config_file)
    store = open_store_or_exit(config, read_only=True)
    try:
        with store_errors_exit():
            states = store.alert_states(config.client)
    finally:
        store.close()
    targets = [Target(i, t.get_secret_value()) for i, t in enumerate(config.alerts.targets)] if config.alerts else []
    rows: list[dict[str, Any]] = []
    for (rule, kind, subject), state in sorted(states.items()):
        wanted = state.fingerprint or ""
        told = [t.label for t in targets if t.key in state.delivered and state.delivered[t.key] == wanted]
        rows.append(
            {
                "kind": kind,
                "rule": rule or None,
                "connection": subject or None,
                "state": "firing" if state.fingerprint is not None else "resolved",
                "told": told,
                "not_told": [t.label for t in targets if t.label not in told],
                "failed_deliveries": state.attempts,
                "last_error": state.last_error,
                "updated_at": state.updated_at.isoformat() if state.updated_at else None,
            }
        )
    if as_json:
        print_json(rows)
        return
    table = Table(show_edge=False)
    for col in ("alert", "rule / connection", "state", "told", "not told", "last error", "updated"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["kind"],
            r["rule"] or r["connection"] or "",
            r["state"],
            ", ".join(r["told"]),
            ", ".join(r["not_told"]),
            (r["last_error"] or "")[:80],
            (r["updated_at"] or "")[:19],
        )
    out.print(table)
