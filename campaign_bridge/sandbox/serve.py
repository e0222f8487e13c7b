"""``campaign-bridge sandbox serve``: every registered sandbox (``registry.discover``) as a local server.

Prints one JSON line (a section per sandbox, see ``Sandboxes.connection_info``, plus ``state`` and
``pid``) and serves until SIGINT or SIGTERM, then exits
0. What clients create through the APIs lives as long as the process; with ``--state DIR`` (a demo
folder) the sandboxes start from the state saved there and save it back on exit, so
``campaign-bridge sync DIR/demo.yaml`` can run against them in between demo runs.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click


@click.group()
def sandbox() -> None:
    """Local emulators of the vendor APIs, for trying rules without touching a real system."""


@sandbox.command()
@click.option(
    "--seed",
    type=click.Choice(["demo", "none"]),
    default="demo",
    show_default=True,
    help="Start with the demo company, or empty. Ignored for a sandbox whose state --state holds.",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Load the sandboxes saved in this folder (e.g. campaign-bridge-demo) and save them back on exit.",
)
def serve(seed: str, state_dir: str | None) -> None:
    """Serve every sandbox on free loopback ports; print one JSON line with URLs and credentials."""
    # Imported here: the sandboxes pull in TLS and JWT libraries every other command can do without.
    from campaign_bridge.sandbox.fleet import Sandboxes

    folder = Path(state_dir) if state_dir else None
    try:
        sandboxes = Sandboxes(folder)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if seed == "demo":
        sandboxes.seed_demo(datetime.now(UTC))  # only those not restored from the folder
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    sandboxes.start()
    try:
        info = {**sandboxes.connection_info(), "state": str(folder) if folder else None, "pid": os.getpid()}
        click.echo(json.dumps(info), nl=True)
        while not stop.wait(1.0):  # a timed wait: signal handlers run between waits on every platform
            pass
    finally:
        sandboxes.stop()
        if folder is not None:
            sandboxes.save()
