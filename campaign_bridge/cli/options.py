"""Options several commands share, spelled (and explained in ``--help``) the same everywhere."""

from __future__ import annotations

import click

rule_opt = click.option("--rule", "-r", help="Only this rule.")
json_opt = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
full_opt = click.option("--full", is_flag=True, help="Read the source fully (sees removals).")
config_opt = click.option(
    "--config",
    "-c",
    "config_file",
    envvar="CAMPAIGN_BRIDGE_CONFIG",
    required=True,
    type=click.Path(dir_okay=False),
    help="The client file (or set CAMPAIGN_BRIDGE_CONFIG).",
)
