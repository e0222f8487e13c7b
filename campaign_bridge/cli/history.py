"""Commands that read (and requeue in) a client's state store: ``runs``, ``conflicts``, ``explain``,
``retry``. They ask no system anything, so they work while the systems are down.

``runs``, ``conflicts`` and ``explain`` open the store read-only: they create, migrate and write nothing,
so they work on a store this user cannot write (a copy, a read-only mount, a full disk) as long as its
schema is current. A store that cannot be read is its message on standard error and exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from campaign_bridge.cli.options import config_opt, json_opt, rule_opt
from campaign_bridge.cli.output import print_conflicts, print_explanation, print_json, print_runs
from campaign_bridge.cli.running import load_or_exit, open_store_or_exit, store_errors_exit
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.sync.store.store import Store


@contextmanager
def _store(config_file: str, *, read_only: bool = True) -> Iterator[tuple[ClientConfig, Store]]:
    """The client file and its store (read-only unless told), closed on the way out; a store error inside is
    its message and exit 1."""
    config = load_or_exit(config_file)
    store = open_store_or_exit(config, read_only=read_only)
    try:
        with store_errors_exit():
            yield config, store
    finally:
        store.close()


@click.command()
@config_opt
@rule_opt
@click.option("--limit", default=20, show_default=True)
@json_opt
def runs(config_file: str, rule: str | None, limit: int, as_json: bool) -> None:
    """Recent runs: status, counts, API calls, timings."""
    with _store(config_file) as (_, store):
        rows = store.runs(limit=limit, rule=rule)
    if as_json:
        print_json(rows)
    else:
        print_runs(rows)


@click.command()
@config_opt
@rule_opt
@click.option("--kind", "-k", help="Only this kind (exclusive_target, status_collision, …).")
@click.option("--limit", default=200, show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV on standard output.")
@json_opt
def conflicts(config_file: str, rule: str | None, kind: str | None, limit: int, as_csv: bool, as_json: bool) -> None:
    """The conflict log: every record not applied exactly as its rule says, and why."""
    with _store(config_file) as (_, store):
        rows = store.decisions(rule=rule, kind=kind, conflicts_only=True, limit=limit)
    print_conflicts(rows, as_json=as_json, as_csv=as_csv)


@click.command()
@click.argument("email")
@config_opt
@json_opt
def explain(email: str, config_file: str, as_json: bool) -> None:
    """Why is (or isn't) this person in each rule's target?"""
    from campaign_bridge.sync.explain import explain as explain_person

    with _store(config_file) as (config, store):
        result = explain_person(store, config, email)
    if as_json:
        print_json(result)
    else:
        print_explanation(result)


@click.command()
@config_opt
@rule_opt
def retry(config_file: str, rule: str | None) -> None:
    """Requeue dead-lettered and rejected items for the next run."""
    with _store(config_file, read_only=False) as (config, store):
        for name in [rule] if rule else [r.name for r in config.rules]:
            n = store.requeue(name)
            click.echo(f"{name}: {n} items requeued")
