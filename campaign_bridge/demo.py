"""``campaign-bridge demo``: a small, realistic company synced end to end through the real connectors.

It starts every registered sandbox in-process (``campaign_bridge.sandbox``), seeds each with its view of
the demo company the first time (``sandbox/demo_company.py``), writes the client file it uses next to the
SQLite state file, runs one CRM→MA rule and four MA→CRM rules through the real connectors over loopback
HTTP(S), and reports what changed and the conflicts it logged. The sandboxes' state is saved in the same
folder, so a second run on it finds nothing to change.

The rules (``RULES``) run on one CRM and one MA system: Salesforce and HubSpot unless ``--crm``/``--ma``
pick another pair among the sandboxes that declare a ``DemoPart`` (``sandbox/spec.py``), which says how
the system connects and how it names the demo's containers. A pair other than the default keeps its own
folder. A rule the picked system cannot run is left out, with the reason.

The client file names its secrets as ``${ENV}`` references (the loader refuses literal secrets); the demo
passes their values to the loader itself and writes them to ``demo.env`` for running the file by hand.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from campaign_bridge.config.loader import load_config
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sandbox.demo_company import (
    CLICKED_LIST,
    EMAIL_HEALTH,
    ENGAGEMENT,
    NURTURE_LIST,
    PRICING,
    PRICING_FORM,
    WEBINAR,
    WIN_BACK,
)
from campaign_bridge.sandbox.fleet import Sandboxes
from campaign_bridge.sandbox.registry import discover
from campaign_bridge.sandbox.spec import DemoPart
from campaign_bridge.sync.client import open_client
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import Kind, RunReport

CONFIG_NAME, ENV_NAME, STATE_NAME = "demo.yaml", "demo.env", "state.db"
DEFAULT_FOLDER = "campaign-bridge-demo"
DEFAULT_CRM, DEFAULT_MA = "salesforce", "hubspot"
#: Decision kinds that are changes made in a target.
CHANGE_KINDS = {
    Kind.CREATED_PERSON.value: "created",
    Kind.ADDED.value: "added",
    Kind.REMOVED.value: "removed",
    Kind.STATUS_CHANGED.value: "status",
}

HEADER = """\
# The demo company's client file, written by `campaign-bridge demo`. Edit the rules freely: later demo
# runs keep your edits (they only update the sandbox URLs if those change). Delete it to get this back.
# {crm_title} (CRM) and {ma_title} (MA) here are the project's local sandboxes; their state is saved in
# this folder.
#
# Run it again: `campaign-bridge demo --dir {folder}{pair_flags}`, or by hand against the saved sandboxes:
#   terminal 1 (Ctrl-C saves their state back):
#     campaign-bridge sandbox serve --state {folder}
#   terminal 2 (the secrets named below, then a dry run; then `sync`, `conflicts`, `explain`):
#     set -a; . {env}; set +a
#     campaign-bridge plan {config}
client: demo
state: sqlite:///{state}
"""


@dataclass(frozen=True, slots=True)
class DemoRule:
    """One of the demo's rules, in the words of a typical CRM and MA system (``DemoPart`` translates):
    ``source``/``target`` are ``(role, endpoint)``; ``settings`` the rest of the rule, as written."""

    name: str
    comment: str
    source: tuple[Role, dict[str, Any]]
    target: tuple[Role, dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)


#: The demo's rules: one CRM → MA rule and four MA → CRM rules, on the demo company's containers.
RULES = (
    DemoRule(
        "webinar-to-nurture",
        "CRM → MA: people who registered for or attended the webinar go to a nurture list (and leave it\n"
        "when they leave the campaign: mirror removes only what this rule added).",
        (Role.CRM, {"campaign": WEBINAR, "member_status": ["Registered", "Attended"]}),
        (Role.MA, {"list": NURTURE_LIST}),
        {"mode": "mirror", "schedule": {"every": "5m"}},
    ),
    DemoRule(
        "pricing-requests-to-crm",
        "MA → CRM: people who asked for pricing in the last 30 days; unknown people become leads.",
        (
            Role.MA,
            {
                "segment": {
                    "all": [
                        {"field": "last_form_submitted", "eq": PRICING_FORM},
                        {"field": "last_form_submitted_at", "within": "30d"},
                    ]
                }
            },
        ),
        (Role.CRM, {"campaign": PRICING, "status": "Responded"}),
        {
            "match": {"prefer": "contact", "create_missing": "lead"},
            "mode": "additive",
            "schedule": {"cron": "*/15 * * * *"},
        },
    ),
    DemoRule(
        "bounces-to-crm",
        "MA → CRM: hard bounces and four or more bounces, for sales to fix the address.",
        (
            Role.MA,
            {"segment": {"any": [{"field": "hard_bounced", "eq": True}, {"field": "soft_bounce_count", "gte": 4}]}},
        ),
        (Role.CRM, {"campaign": EMAIL_HEALTH, "status": "Bounced"}),
        {"match": {"prefer": "contact", "create_missing": "skip"}},
    ),
    DemoRule(
        "gone-quiet-to-winback",
        "MA → CRM: known contacts with no activity for 60 days, for a win-back sequence.",
        (
            Role.MA,
            {
                "segment": {
                    "all": [
                        {"field": "last_activity_at", "exists": True},
                        {"field": "last_activity_at", "not_within": "60d"},
                    ]
                }
            },
        ),
        (Role.CRM, {"campaign": WIN_BACK, "status": "Gone quiet"}),
        {"match": {"prefer": "contact", "create_missing": "skip"}},
    ),
    DemoRule(
        "clickers-to-crm",
        "MA → CRM: a list the MA system computes itself, read as a source. It cannot be a target.",
        (Role.MA, {"list": CLICKED_LIST}),
        (Role.CRM, {"campaign": ENGAGEMENT, "status": "Clicked"}),
        {"match": {"prefer": "contact", "create_missing": "skip"}, "mode": "mirror"},
    ),
)


class DemoError(Exception):
    """The demo cannot run as asked (an unknown system, a folder holding another pair's demo)."""


@dataclass(frozen=True, slots=True)
class Pair:
    """The CRM and the MA system the demo runs on (sandbox names, as ``sandbox serve`` prints them)."""

    crm: str = DEFAULT_CRM
    ma: str = DEFAULT_MA

    @property
    def is_default(self) -> bool:
        return (self.crm, self.ma) == (DEFAULT_CRM, DEFAULT_MA)

    def default_folder(self) -> Path:
        return Path(DEFAULT_FOLDER if self.is_default else f"{DEFAULT_FOLDER}-{self.crm}-{self.ma}")


def demo_systems(role: Role) -> list[str]:
    """The systems of ``role`` the demo can run on: registered sandboxes that declare a ``DemoPart``."""
    return [spec.name for spec in discover() if spec.role is role and spec.demo is not None]


def run_demo(
    directory: Path | None = None, progress: Callable[[str], None] | None = None, pair: Pair = Pair()
) -> dict[str, Any]:
    """Seed (first time only), write the client file, run every rule; return what happened.

    ``directory``: the demo's folder (None: ``pair.default_folder()``). ``progress`` receives rich-markup
    lines for people (None: quiet). The result holds the folder, the client file, the pair, ``seeded`` (a
    new company this run), ``left_out`` (rules the pair cannot run, with why), ``changes`` and
    ``conflicts`` counts, ``changed`` (every change made, by rule) and ``runs`` (each rule's report, as
    ``campaign-bridge sync --json``). Raises ``DemoError`` when the pair cannot run here.
    """
    say = progress or (lambda _msg: None)
    directory = pair.default_folder() if directory is None else directory
    parts = _parts(pair)
    _check_folder(directory, pair)
    directory.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    with Sandboxes(directory) as sandboxes:
        try:
            fresh = not {pair.crm, pair.ma} <= sandboxes.restored
            if fresh:
                _forget_state(directory)  # a ledger without its sandboxes (or from an older demo) would mislead
            sandboxes.seed_demo(datetime.now(UTC))  # each sandbox not saved here: a new one is seeded too
            config_path, environ = write_client_files(directory, sandboxes, pair)
            urls = {name: sandboxes[name].server.url for name in (pair.crm, pair.ma)}
            say(
                f"[bold]campaign-bridge demo[/bold]: {'seeded a new' if fresh else 'reusing the'} demo company "
                f"in {directory}/ ({_title(pair.crm)} {urls[pair.crm]}, {_title(pair.ma)} {urls[pair.ma]})"
            )
            say(
                f"client file: {config_path} (read it, edit its rules, run `{_again(directory, pair)}` again: edits are kept)"
            )
            left_out = _left_out(parts)
            for name, why in left_out.items():
                say(f"left out: {name}: {why}")
            config = load_config(config_path, environ={**os.environ, **environ})
            with open_client(config) as client:
                engine = Engine(config, client.store, client.connectors)
                for rule in config.rules:
                    try:
                        report = engine.sync(rule.name)
                    except FatalError as exc:  # as `sync` reports it: this rule failed, the others run
                        report = RunReport(rule.name, "sync", status="failed", message=str(exc))
                    mine = _changes(report)
                    runs.append({**report.as_json(), "changed": mine})
                    changed.extend(mine)
                    if progress is not None:
                        _show(report, mine)
        finally:
            sandboxes.save()
    conflicts = sum(len(r["conflicts"]) for r in runs)
    say(
        f"{len(changed)} changes applied; {conflicts} conflicts logged. "
        + (f"Run `{_again(directory, pair)}` again: it finds nothing to change." if changed else "Nothing to change.")
    )
    say(
        "Why is someone (not) in a list?  "
        f"(set -a; . {directory / ENV_NAME}; set +a; campaign-bridge explain linus@initech.example -c {config_path})"
    )
    say(
        "Open the admin console on this state (it prints its address; log in with the token you chose):  "
        f"(set -a; . {directory / ENV_NAME}; set +a; CAMPAIGN_BRIDGE_CONSOLE_TOKEN=<choose a token> "
        f"campaign-bridge ui {config_path})  (for its plan previews and 'run now', keep "
        f"`campaign-bridge sandbox serve --state {directory}` running)"
    )
    return {
        "directory": str(directory),
        "config": str(config_path),
        "pair": {"crm": pair.crm, "ma": pair.ma},
        "seeded": fresh,
        "left_out": left_out,
        "changes": len(changed),
        "conflicts": conflicts,
        "changed": changed,
        "runs": runs,
    }


def _again(directory: Path, pair: Pair) -> str:
    """The command that runs this demo again."""
    words = ["campaign-bridge demo"]
    if directory != pair.default_folder():
        words.append(f"--dir {directory}")
    if not pair.is_default:
        words.append(f"--crm {pair.crm} --ma {pair.ma}")
    return " ".join(words)


def _parts(pair: Pair) -> dict[Role, tuple[str, DemoPart]]:
    """Each side's sandbox name and ``DemoPart``; ``DemoError`` for a system that cannot take part."""
    specs = {spec.name: spec for spec in discover()}
    parts: dict[Role, tuple[str, DemoPart]] = {}
    for role, name in ((Role.CRM, pair.crm), (Role.MA, pair.ma)):
        choices = ", ".join(demo_systems(role))
        spec = specs.get(name)
        if spec is None or spec.role is not role or spec.demo is None:
            raise DemoError(f"the demo cannot run on {name!r} as its {role.value.upper()}; choose one of: {choices}")
        parts[role] = (name, spec.demo)
    return parts


def _check_folder(directory: Path, pair: Pair) -> None:
    """Refuse a folder whose client file was written for another pair: its state would not fit."""
    path = directory / CONFIG_NAME
    if not path.exists():
        return
    try:
        written = yaml.safe_load(path.read_text())
        types = {c.get("type") for c in written["connections"].values()}
    except (yaml.YAMLError, AttributeError, KeyError, TypeError):
        return  # the loader names what is wrong with it, at its line
    if types != {pair.crm, pair.ma}:
        held = " + ".join(sorted(str(t) for t in types))
        raise DemoError(
            f"{directory}/ holds the demo for {held}, not {pair.crm} + {pair.ma}: "
            "name another folder with --dir (or delete that one)"
        )


def _left_out(parts: dict[Role, tuple[str, DemoPart]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, part in parts.values():
        for rule, why in part.cannot.items():
            out.setdefault(rule, f"{_title(name)}: {why}")
    return out


def write_client_files(directory: Path, sandboxes: Sandboxes, pair: Pair = Pair()) -> tuple[Path, dict[str, str]]:
    """Write ``demo.yaml`` for the sandboxes as they run now, and ``demo.env`` with its secrets."""
    parts = _parts(pair)
    info = sandboxes.connection_info()
    connections: dict[str, tuple[str, dict[str, Any]]] = {}
    environ: dict[str, str] = {}
    for name, part in parts.values():
        settings, secrets = part.connection(info[name])
        connections[part.alias] = (name, settings)
        environ.update(secrets)
    config_path, env_path = directory / CONFIG_NAME, directory / ENV_NAME
    if config_path.exists() and {pair.crm, pair.ma} <= sandboxes.restored:
        text = config_path.read_text()
        for old, new in sandboxes.moved_urls():
            text = text.replace(old, new)
        config_path.write_text(text)
    else:
        config_path.write_text(_client_file(directory, config_path, env_path, pair, parts, connections))
    env_path.write_text(
        "# Secrets of the demo's local sandboxes, named by demo.yaml. Load with: set -a; . demo.env; set +a\n"
        + "".join(f"{name}={value}\n" for name, value in environ.items())
    )
    env_path.chmod(0o600)
    return config_path, environ


def _client_file(
    directory: Path,
    config_path: Path,
    env_path: Path,
    pair: Pair,
    parts: dict[Role, tuple[str, DemoPart]],
    connections: dict[str, tuple[str, dict[str, Any]]],
) -> str:
    flags = "" if pair.is_default else f" --crm {pair.crm} --ma {pair.ma}"
    lines = [
        HEADER.format(
            crm_title=_title(pair.crm),
            ma_title=_title(pair.ma),
            folder=directory,
            pair_flags=flags,
            config=config_path,
            env=env_path,
            state=(directory / STATE_NAME).resolve(),
        ).rstrip("\n"),
        "connections:",
    ]
    for alias, (system, settings) in connections.items():
        lines.append(_yaml({alias: {"type": system, **settings}}, "  "))
    lines.append("rules:")
    left_out = _left_out(parts)
    for rule in RULES:
        if rule.name in left_out:
            continue
        lines.extend(f"  # {line}" for line in rule.comment.splitlines())
        body: dict[str, Any] = {"name": rule.name}
        for key, (role, endpoint) in (("from", rule.source), ("to", rule.target)):
            name, part = parts[role]
            body[key] = {"connection": part.alias, **part.endpoint(dict(endpoint))}
        body.update(rule.settings)
        lines.append(_yaml([body], "  "))
    return "\n".join(lines) + "\n"


def _yaml(value: Any, indent: str) -> str:
    """``value`` as YAML at ``indent``: collections of plain values on one line (``{connection: sf, list:
    …}``), nested ones as blocks, as people write rules."""
    text = yaml.safe_dump(value, default_flow_style=None, sort_keys=False, allow_unicode=True, width=1000)
    return "\n".join(indent + line for line in text.rstrip("\n").splitlines())


def _title(system: str) -> str:
    return {"salesforce": "Salesforce", "hubspot": "HubSpot"}.get(system, system.replace("_", " ").title())


def _forget_state(directory: Path) -> None:
    for name in (STATE_NAME, f"{STATE_NAME}-wal", f"{STATE_NAME}-shm", f"{STATE_NAME}-journal"):
        (directory / name).unlink(missing_ok=True)


def _changes(report: RunReport) -> list[dict[str, Any]]:
    return [
        {
            "rule": report.rule,
            "change": CHANGE_KINDS[d.kind.value],
            "email": d.email,
            "detail": d.detail,
            "in": d.container,
        }
        for d in report.decisions
        if d.kind.value in CHANGE_KINDS
    ]


def _show(report: RunReport, changes: list[dict[str, Any]]) -> None:
    from campaign_bridge.cli.output import out, print_run_report

    print_run_report(report)
    for c in changes:
        where = f" in {c['in']}" if c["in"] else ""  # a person created is in no container yet
        out.print(f"  {c['change']:<8} {c['email']}: {c['detail']}{where}", markup=False, highlight=False)
