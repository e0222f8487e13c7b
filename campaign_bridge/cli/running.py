"""Open a client file, run some of its rules, print their reports, exit with what they came to.

``plan``, ``sync`` and ``reconcile`` differ only in what runs one rule and how its report prints; the
lifecycle is here once: the rules named (``--rule``, else every enabled rule), a lease held elsewhere or a
fatal error turned into that rule's report, the exit code the worst of the rules', one JSON list for
``--json``.

Exit codes: 0 done; 1 a rule failed or stopped (quota, transient errors left items to retry), or the state
store cannot be opened, read or written; 2 the configuration is invalid; 3 a plan was held by its safety
limit; 4 the rule's lease is held.

A state store that fails (full, read-only, damaged, empty, unreachable) is exit 1, not 2: the client file
is right, the disk or the database around it is not, and 2 tells a script "fix the file".
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import NoReturn

import click

from campaign_bridge.cli.output import R, print_reports
from campaign_bridge.config.loader import load_config
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.errors import ConfigError, FatalError, LeaseHeldError, StateStoreError
from campaign_bridge.sync.client import Client, open_client
from campaign_bridge.sync.store.store import Store

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_HELD, EXIT_LEASE = 0, 1, 2, 3, 4

#: A rule's report status → the exit code it asks for at least (other statuses ask for 0).
STATUS_EXIT = {"held": EXIT_HELD, "failed": EXIT_FAILED, "stopped": EXIT_FAILED, "partial": EXIT_FAILED}

#: Runs one rule by name and returns its report.
RunOne = Callable[[str], R]
#: The report of a rule that did not run: (rule, status, why) → report.
NotRun = Callable[[str, str, str], R]


def load_or_exit(path: str) -> ClientConfig:
    """The client file, or every problem in it as ``FILE:LINE: message`` on standard error and exit 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        raise SystemExit(EXIT_CONFIG) from None


def open_store_or_exit(config: ClientConfig, *, read_only: bool = False) -> Store:
    """The client's state store, or what is wrong with it on standard error and exit 1."""
    with store_errors_exit():
        return Store(config.state_url, read_only=read_only)


@contextmanager
def store_errors_exit() -> Iterator[None]:
    """A ``StateStoreError`` inside: its message (where, what, what to do) on standard error and exit 1."""
    try:
        yield
    except StateStoreError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(EXIT_FAILED) from None


def rule_names(config: ClientConfig, rule: str | None) -> list[str]:
    """``--rule``'s rule, else every enabled rule. A ``--rule`` the file lacks is a configuration
    problem: said as ``FILE: no rule named …`` (with the near names) on standard error, exit 2."""
    if not rule:
        return [r.name for r in config.rules if r.enabled]
    try:
        return [config.rule(rule).name]
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        raise SystemExit(EXIT_CONFIG) from None


def run_rules(
    config_file: str,
    rule: str | None,
    start: Callable[[Client], AbstractContextManager[RunOne[R]]],
    not_run: NotRun[R],
    *,
    stop: threading.Event | None = None,
) -> tuple[list[R], int]:
    """Run the rules of ``config_file`` (``--rule``'s, else every enabled one); their reports and exit code.

    ``start`` opens what runs one rule over the client's open parts (an engine, a reconciler). A rule whose
    lease another worker holds is reported ``skipped`` (exit 4); a ``FatalError`` is reported ``failed``
    (exit 1); once ``stop`` is set the rules not yet started are reported ``stopped`` (exit 1). A state
    store that cannot be opened stops everything: its message on standard error, exit 1.
    """
    config = load_or_exit(config_file)
    names = rule_names(config, rule)
    reports: list[R] = []
    code = EXIT_OK
    with store_errors_exit(), open_client(config) as client, start(client) as run_one:
        for name in names:
            if stop is not None and stop.is_set():
                reports.append(not_run(name, "stopped", "not run: stopped on request"))
                code = max(code, EXIT_FAILED)
                continue
            try:
                report = run_one(name)
            except LeaseHeldError as exc:
                report = not_run(name, "skipped", str(exc))
                code = max(code, EXIT_LEASE)
            except FatalError as exc:
                report = not_run(name, "failed", str(exc))
                code = max(code, EXIT_FAILED)
            reports.append(report)
            code = max(code, STATUS_EXIT.get(report.status, EXIT_OK))
    return reports, code


def finish(reports: Sequence[R], code: int, *, as_json: bool, show: Callable[[R], None]) -> NoReturn:
    """Print the reports (``--json``: one list) and exit with ``code``."""
    print_reports(reports, as_json, show)
    raise SystemExit(code)


@contextmanager
def stop_on_sigterm(stop: threading.Event, *, enabled: bool) -> Iterator[None]:
    """While inside, SIGTERM (a deploy, systemd, Kubernetes) sets ``stop`` instead of killing the process.

    A run in flight then finishes its batch and stops where the next run resumes. Only the main thread may
    install a handler; elsewhere (and when not ``enabled``) SIGTERM keeps its usual meaning.
    """
    handle = enabled and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if handle else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
