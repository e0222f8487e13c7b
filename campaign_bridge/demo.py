"""``campaign-bridge demo``: a small, realistic company synced end to end through the real connectors.

It starts every registered sandbox in-process (``campaign_bridge.sandbox``), seeds each with its view of
the demo company the first time (``sandbox/demo_company.py``), writes the client file it uses next to the SQLite
state file, runs one CRM→MA rule and four MA→CRM rules through simple-salesforce and hubspot-api-client
over loopback HTTP(S), and reports what changed and the conflicts it logged. The sandboxes' state is saved
in the same folder, so a second run on it finds nothing to change. The rules use Salesforce and HubSpot;
a system added since is started, seeded and saved beside them, ready for rules of its own.

The client file names its secrets as ``${ENV}`` references (the loader refuses literal secrets); the demo
passes their values to the loader itself and writes them to ``demo.env`` for running the file by hand.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from campaign_bridge.config.loader import load_config
from campaign_bridge.sandbox.fleet import Sandboxes
from campaign_bridge.sync.client import open_client
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import Kind, RunReport

CONFIG_NAME, ENV_NAME, STATE_NAME = "demo.yaml", "demo.env", "state.db"
SF_SECRET_ENV, HS_TOKEN_ENV = "CB_DEMO_SF_CLIENT_SECRET", "CB_DEMO_HS_TOKEN"
#: The sandboxes the demo's rules use (``DEMO_CONFIG``): without both saved, the company starts afresh.
CRM, MA = "salesforce", "hubspot"
#: Decision kinds that are changes made in a target.
CHANGE_KINDS = {
    Kind.CREATED_PERSON.value: "created",
    Kind.ADDED.value: "added",
    Kind.REMOVED.value: "removed",
    Kind.STATUS_CHANGED.value: "status",
}

DEMO_CONFIG = """\
# The demo company's client file, written by `campaign-bridge demo`. Edit the rules freely: later demo
# runs keep your edits (they only update the sandbox URLs if those change). Delete it to get this back.
# Salesforce and HubSpot here are the project's local sandboxes; their state is saved in this folder.
#
# Run it again: `campaign-bridge demo --dir {folder}`, or by hand against the saved sandboxes:
#   campaign-bridge sandbox serve --state {folder}         # terminal 1; Ctrl-C saves their state back
#   set -a; . {env}; set +a                                 # terminal 2: the secrets named below
#   campaign-bridge plan {config}                           # dry run; then `sync`, `conflicts`, `explain`
client: demo
state: sqlite:///{state}
connections:
  sf:
    type: salesforce
    instance_url: {sf_url}
    login_url: {sf_url}                 # the sandbox is its own My Domain
    ca_bundle: {ca_bundle}              # the sandbox's test CA
    auth: {{method: client_credentials, client_id: {sf_client_id}, client_secret: "${{{sf_secret_env}}}"}}
  hs:
    type: hubspot
    base_url: {hs_url}
    auth: {{method: private_app, token: "${{{hs_token_env}}}"}}
rules:
  # CRM → MA: people who registered for or attended the webinar go to a nurture list (and leave it
  # when they leave the campaign: mirror removes only what this rule added).
  - name: webinar-to-nurture
    from: {{connection: sf, campaign: "Webinar 2026-Q4", member_status: [Registered, Attended]}}
    to:   {{connection: hs, list: "Webinar Q4 nurture"}}
    mode: mirror
    schedule: {{every: 5m}}
  # MA → CRM: people who asked for pricing in the last 30 days; unknown people become leads.
  - name: pricing-requests-to-crm
    from:
      connection: hs
      segment:
        all:
          - {{field: last_form_submitted, eq: "Pricing request"}}
          - {{field: last_form_submitted_at, within: 30d}}
    to:   {{connection: sf, campaign: "Pricing interest 2026", status: Responded}}
    match: {{prefer: contact, create_missing: lead}}
    mode: additive
    schedule: {{cron: "*/15 * * * *"}}
  # MA → CRM: hard bounces and four or more bounces, for sales to fix the address.
  - name: bounces-to-crm
    from:
      connection: hs
      segment:
        any:
          - {{field: hard_bounced, eq: true}}
          - {{field: soft_bounce_count, gte: 4}}
    to:   {{connection: sf, campaign: "Email health 2026", status: Bounced}}
    match: {{prefer: contact, create_missing: skip}}
  # MA → CRM: known contacts with no activity for 60 days, for a win-back sequence.
  - name: gone-quiet-to-winback
    from:
      connection: hs
      segment:
        all:
          - {{field: last_activity_at, exists: true}}
          - {{field: last_activity_at, not_within: 60d}}
    to:   {{connection: sf, campaign: "Win-back 2026", status: Gone quiet}}
    match: {{prefer: contact, create_missing: skip}}
  # MA → CRM: a DYNAMIC HubSpot list (HubSpot computes it) read as a source. It cannot be a target.
  - name: clickers-to-crm
    from: {{connection: hs, list: "Clicked a marketing email"}}
    to:   {{connection: sf, campaign: "Email engagement 2026", status: Clicked}}
    match: {{prefer: contact, create_missing: skip}}
    mode: mirror
"""


def run_demo(directory: Path, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Seed (first time only), write the client file, run every rule; return what happened.

    ``progress`` receives rich-markup lines for people (None: quiet). The result holds the folder, the
    client file, ``seeded`` (a new company this run), ``changes`` and ``conflicts`` counts, ``changed``
    (every change made, by rule) and ``runs`` (each rule's report, as ``campaign-bridge sync --json``).
    """
    say = progress or (lambda _msg: None)
    directory.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    with Sandboxes(directory) as sandboxes:
        try:
            fresh = not {CRM, MA} <= sandboxes.restored
            if fresh:
                _forget_state(directory)  # a ledger without its sandboxes (or from an older demo) would mislead
            sandboxes.seed_demo(datetime.now(UTC))  # each sandbox not saved here: a new one is seeded too
            config_path, environ = write_client_files(directory, sandboxes)
            urls = {name: sandboxes[name].server.url for name in (CRM, MA)}
            say(
                f"[bold]campaign-bridge demo[/bold]: {'seeded a new' if fresh else 'reusing the'} demo company "
                f"in {directory}/ (Salesforce {urls[CRM]}, HubSpot {urls[MA]})"
            )
            say(
                f"client file: {config_path} (read it, edit its rules, run `campaign-bridge demo` again: edits are kept)"
            )
            config = load_config(config_path, environ={**os.environ, **environ})
            with open_client(config) as client:
                engine = Engine(config, client.store, client.connectors)
                for rule in config.rules:
                    report = engine.sync(rule.name)
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
        + ("Run `campaign-bridge demo` again: it finds nothing to change." if changed else "Nothing to change.")
    )
    say(f"Why is someone (not) in a list?  campaign-bridge explain linus@initech.example -c {config_path}")
    return {
        "directory": str(directory),
        "config": str(config_path),
        "seeded": fresh,
        "changes": len(changed),
        "conflicts": conflicts,
        "changed": changed,
        "runs": runs,
    }


def write_client_files(directory: Path, sandboxes: Sandboxes) -> tuple[Path, dict[str, str]]:
    """Write ``demo.yaml`` for the sandboxes as they run now, and ``demo.env`` with its secrets."""
    info = sandboxes.connection_info()
    sf, hs = info[CRM], info[MA]
    environ = {
        SF_SECRET_ENV: sf["auth"]["client_credentials"]["client_secret"],
        HS_TOKEN_ENV: hs["auth"]["private_app"]["token"],
    }
    config_path, env_path = directory / CONFIG_NAME, directory / ENV_NAME
    if config_path.exists() and {CRM, MA} <= sandboxes.restored:
        text = config_path.read_text()
        for old, new in sandboxes.moved_urls():
            text = text.replace(old, new)
        config_path.write_text(text)
    else:
        _write_config(directory, config_path, env_path, sf, hs)
    env_path.write_text(
        "# Secrets of the demo's local sandboxes, named by demo.yaml. Load with: set -a; . demo.env; set +a\n"
        + "".join(f"{name}={value}\n" for name, value in environ.items())
    )
    env_path.chmod(0o600)
    return config_path, environ


def _write_config(directory: Path, config_path: Path, env_path: Path, sf: dict[str, Any], hs: dict[str, Any]) -> None:
    config_path.write_text(
        DEMO_CONFIG.format(
            folder=directory,
            config=config_path,
            env=env_path,
            state=(directory / STATE_NAME).resolve(),
            sf_url=sf["instance_url"],
            ca_bundle=Path(sf["ca_bundle"]).resolve(),
            sf_client_id=sf["auth"]["client_credentials"]["client_id"],
            sf_secret_env=SF_SECRET_ENV,
            hs_url=hs["base_url"],
            hs_token_env=HS_TOKEN_ENV,
        )
    )


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
        out.print(f"  {c['change']:<8} {c['email']}: {c['detail']} in {c['in']}", markup=False, highlight=False)
