"""``campaign-bridge alerts test FILE``: send a test alert to every target of a client file's ``alerts:``.

Each target is named by its place in the file and its service (``target 2 (E-Mail)``), never by its URL;
why a delivery failed is Apprise's word for it, with every secret of the file masked.
Exit 0 when every target took the alert, 1 when any did not, 2 when the file is invalid or has no alerts.
"""

from __future__ import annotations

import click

from campaign_bridge.alerts import send_test
from campaign_bridge.cli.options import json_opt
from campaign_bridge.cli.output import print_json
from campaign_bridge.cli.running import EXIT_CONFIG, EXIT_FAILED, load_or_exit


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
