"""``campaign-bridge serve CONFIG...``: run every rule of the client files on its schedule until stopped.

Signals: SIGTERM and SIGINT stop (runs in flight finish their current batch; exit 0); SIGHUP re-reads the
files (an invalid one is refused and logged; the old configuration keeps running). The handlers only
queue a request; the main thread acts on it, so no lock is ever taken inside a signal handler.
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
from collections.abc import Callable
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from campaign_bridge.errors import ConfigError

EXIT_CONFIG = 2

log = logging.getLogger("campaign_bridge.service")


def _zone(_ctx: click.Context, _param: click.Parameter, value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {value!r} (an IANA name such as UTC or Europe/Paris)") from None


@click.command()
@click.argument("config_files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of /healthz and /metrics.")
@click.option("--port", default=9464, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option("--log-json", is_flag=True, help="One JSON object per log line.")
@click.option(
    "--timezone",
    "zone",
    default="UTC",
    show_default=True,
    callback=_zone,
    help="Time zone of cron schedules.",
)
@click.option(
    "--reconcile-cron",
    default=None,
    help="When each rule's nightly reconcile runs (crontab; default '30 2 * * *'). 'off' disables it.",
)
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64), help="Rules run at once.")
@click.option("--no-console", is_flag=True, help="Serve only /healthz and /metrics, not the admin console.")
@click.option(
    "--auth-header",
    default=None,
    help="Console: trust this header (set by an authenticating reverse proxy) to name the user.",
)
def serve(
    config_files: tuple[str, ...],
    host: str,
    port: int,
    log_json: bool,
    zone: ZoneInfo,
    reconcile_cron: str | None,
    workers: int,
    no_console: bool,
    auth_header: str | None,
) -> None:
    """Run every rule of the client files on its schedule; /healthz, /metrics and the console on HOST:PORT."""
    from apscheduler.triggers.cron import CronTrigger

    from campaign_bridge.service import logs
    from campaign_bridge.service.http import HealthServer, ServiceScheduling
    from campaign_bridge.service.jobs import NIGHTLY_RECONCILE
    from campaign_bridge.service.service import Service

    cron = NIGHTLY_RECONCILE if reconcile_cron is None else reconcile_cron
    if cron == "off":
        cron = ""
    elif cron:
        try:
            CronTrigger.from_crontab(cron)
        except ValueError as exc:
            raise click.BadParameter(f"invalid crontab {cron!r}: {exc}", param_hint="--reconcile-cron") from None

    logs.configure(as_json=log_json)
    service = Service(list(config_files), timezone=zone, reconcile_cron=cron or None, workers=workers)
    requests: queue.SimpleQueue[str] = queue.SimpleQueue()

    def request(name: str) -> Callable[[int, FrameType | None], None]:
        def handler(_signum: int, _frame: FrameType | None) -> None:
            requests.put(name)  # SimpleQueue.put is reentrant: safe in a signal handler

        return handler

    for signum, name in ((signal.SIGTERM, "stop"), (signal.SIGINT, "stop"), (signal.SIGHUP, "reload")):
        signal.signal(signum, request(name))
    try:
        service.start()
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(EXIT_CONFIG)
    console = None
    auth = None
    if not no_console:
        from campaign_bridge.console.auth import AuthSettings
        from campaign_bridge.console.state import Console

        console = Console(list(config_files), scheduling=ServiceScheduling(service))
        auth = AuthSettings.from_environment(header=auth_header)
        if auth.token is None and auth.header is None and not console.store.users():
            log.warning(
                "the console has no way to log in: set CAMPAIGN_BRIDGE_CONSOLE_TOKEN or add a user (campaign-bridge ui FILE --add-user NAME)"
            )
    try:
        server = HealthServer(service, host, port, console=console, auth=auth)
    except OSError as exc:
        service.stop()
        click.echo(f"cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    server.start()
    what = "/healthz and /metrics" if console is None else "the console, /healthz and /metrics"
    log.info("serving %s on %s", what, server.url, extra={"url": server.url})
    while True:
        what = requests.get()
        if what == "reload":
            log.info("SIGHUP: reloading %s", ", ".join(config_files))
            service.reload()
        else:
            break
    service.stop()
    server.stop()
    if console is not None:
        console.close()
