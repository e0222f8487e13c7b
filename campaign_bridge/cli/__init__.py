"""The ``campaign-bridge`` command line.

output.py   what commands print: consoles, progress bar, every report and table
running.py  open a client file, run rules, print their reports, exit code (0/1/2/3/4, see there)
options.py  options shared by several commands
rules.py    validate, schema, plan, sync, reconcile, demo
history.py  runs, conflicts, explain, retry (the state store)
onboarding.py  discover, init, doctor, recipes (onboarding_tables.py prints them)

``serve`` and ``sandbox`` live with their parts (``service/command.py``, ``sandbox/serve.py``).
Human output is tables; ``--json`` output is stable for scripts.
"""

from __future__ import annotations

import click

from campaign_bridge.cli.alerts import alerts
from campaign_bridge.cli.console import ui
from campaign_bridge.cli.history import conflicts, explain, retry, runs
from campaign_bridge.cli.onboarding import discover, doctor, init, recipes_command
from campaign_bridge.cli.rules import demo, plan, reconcile, schema, sync, validate
from campaign_bridge.sandbox.serve import sandbox
from campaign_bridge.service.command import serve

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="campaign-bridge")
def main() -> None:
    """Keep campaign membership consistent between CRM and marketing-automation systems."""


for command in (validate, schema, plan, sync, runs, conflicts, explain, retry, demo, reconcile, sandbox, serve, ui):
    main.add_command(command)
for command in (discover, init, doctor, recipes_command):
    main.add_command(command)
main.add_command(alerts)
