"""``campaign-bridge ui FILE...``: the admin console alone, over the client files' state (docs/console.md).

It schedules nothing (``serve`` does, and carries the same console); its runs are the ones people start
from the pages. ``--add-user`` adds (or replaces) a console user instead, and exits.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from campaign_bridge.cli.running import EXIT_CONFIG, EXIT_FAILED, store_errors_exit
from campaign_bridge.errors import ConfigError

#: The console's port unless told (``serve``'s is 9464).
DEFAULT_PORT = 8765


class FileSchedules:
    """Next fire times as the client files' schedules give them (``ui`` runs no scheduler)."""

    def __init__(self, console: object) -> None:
        self.console = console

    def next_fire(self, client: str, rule: str) -> datetime | None:
        from campaign_bridge.console.state import Console
        from campaign_bridge.service.jobs import trigger_for

        assert isinstance(self.console, Console)
        loaded, found = self.console.rule(client, rule)
        _, trigger = trigger_for(loaded.config.schedule_of(found), UTC)
        fire: datetime | None = trigger.get_next_fire_time(None, datetime.now(UTC))
        return fire

    def reload(self) -> bool:
        return True  # the console re-reads the files itself


@click.command()
@click.argument("config_files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any).")
@click.option(
    "--auth-header", default=None, help="Trust this header (set by an authenticating proxy) to name the user."
)
@click.option("--add-user", "add_user", default=None, metavar="NAME", help="Add or replace a console user, then exit.")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "admin"]),
    default="viewer",
    show_default=True,
    help="The role of --add-user.",
)
@click.option("--password-stdin", is_flag=True, help="With --add-user: read the password from standard input.")
@click.option("--remove-user", "remove_user", default=None, metavar="NAME", help="Remove a console user, then exit.")
def ui(
    config_files: tuple[str, ...],
    host: str,
    port: int,
    auth_header: str | None,
    add_user: str | None,
    role: str,
    password_stdin: bool,
    remove_user: str | None,
) -> None:
    """The admin console over the client files' state, on http://HOST:PORT (log in first)."""
    from campaign_bridge.console.auth import AuthSettings, hash_password
    from campaign_bridge.console.state import Console
    from campaign_bridge.service.http import bind, uvicorn_server

    try:
        with store_errors_exit():
            console = Console(list(config_files))
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(EXIT_CONFIG) from None
    console.scheduling = FileSchedules(console)
    for problem in console.problems:
        click.echo(f"not shown: {problem}", err=True)
    if remove_user is not None:
        with store_errors_exit():
            removed = console.store.remove_user(remove_user)
            if removed:
                console.store.audit(datetime.now(UTC), "cli", "admin", "remove_user", remove_user, "removed")
        console.close()
        if not removed:
            click.echo(f"no console user named {remove_user!r}", err=True)
            raise SystemExit(EXIT_CONFIG)
        click.echo(f"user {remove_user} removed (their sessions ended)")
        return
    if add_user is not None:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = click.prompt(f"password for {add_user}", hide_input=True, confirmation_prompt=True)
        if len(password) < 8:
            click.echo("the password must have at least 8 characters", err=True)
            raise SystemExit(EXIT_CONFIG)
        now = datetime.now(UTC)
        with store_errors_exit():
            console.store.put_user(add_user, hash_password(password), role, now)
            console.store.audit(now, "cli", "admin", "put_user", add_user, f"role {role}")
        click.echo(f"user {add_user} ({role}) saved in the state store of {config_files[0]}")
        console.close()
        return
    auth = AuthSettings.from_environment(header=auth_header)
    if auth.token is None and auth.header is None and not console.store.users():
        click.echo(
            "no way to log in: set CAMPAIGN_BRIDGE_CONSOLE_TOKEN, or add a user with "
            f"`campaign-bridge ui {config_files[0]} --add-user NAME --role admin`",
            err=True,
        )
        raise SystemExit(EXIT_CONFIG)
    from campaign_bridge.console.app import console_app

    try:
        sock = bind(host, port)
    except OSError as exc:
        click.echo(f"cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise SystemExit(EXIT_FAILED) from None
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"campaign-bridge console on http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C stops it)", err=True)
    server = uvicorn_server(console_app(console, auth))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        console.close()
