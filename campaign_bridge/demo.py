"""``campaign-bridge demo``: a small, realistic company synced end to end, offline.

It seeds a CRM and an MA system (the memory pair, persisted as JSON next to the state file), writes the
client file it uses (so a user can read it, edit it and run ``campaign-bridge plan/sync`` on it), runs
a CRM→MA rule and an MA→CRM rule, and reports what changed and the conflicts it logged. Run again on
the same folder, it finds nothing to change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from campaign_bridge.config.loader import load_config
from campaign_bridge.connectors.memory.data import MemoryData, drop_memory_store
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.runner import open_client

CONFIG_NAME = "demo.yaml"

DEMO_CONFIG = """\
# The demo company's client file, written by `campaign-bridge demo`. Edit it and run
#   campaign-bridge plan {config}        (dry run)
#   campaign-bridge sync {config}
client: demo
state: sqlite:///{state}
connections:
  crm: {{type: memory-crm, store: demo-crm, path: {crm}}}
  ma:  {{type: memory-ma, store: demo-ma, path: {ma}}}
rules:
  # CRM → MA: people who registered for or attended the webinar go to a nurture list.
  - name: webinar-to-nurture
    from: {{connection: crm, campaign: "Webinar 2026-Q4", member_status: [Registered, Attended]}}
    to:   {{connection: ma, list: "Webinar Q4 nurture"}}
    mode: mirror
    schedule: {{every: 5m}}
  # MA → CRM: people who asked for pricing in the last 30 days become campaign members.
  - name: pricing-requests-to-crm
    from:
      connection: ma
      segment:
        all:
          - {{field: last_form_submitted, eq: "Pricing request"}}
          - {{field: last_form_submitted_at, within: 30d}}
    to:   {{connection: crm, campaign: "Pricing interest 2026", status: Responded}}
    match: {{prefer: contact, create_missing: lead}}
    mode: additive
    schedule: {{cron: "*/15 * * * *"}}
  # MA → CRM: hard bounces and people with four or more soft bounces, for the sales team to check.
  - name: bounces-to-crm
    from:
      connection: ma
      segment:
        any:
          - {{field: hard_bounced, eq: true}}
          - {{field: soft_bounce_count, gte: 4}}
    to:   {{connection: crm, campaign: "Email health 2026", status: Bounced}}
    match: {{prefer: contact, create_missing: skip}}
"""


def _seed_crm(crm: MemoryData) -> None:
    webinar = crm.add_container(
        "Webinar 2026-Q4", ContainerKind.CAMPAIGN, [("Invited", False), ("Registered", False), ("Attended", True)]
    )
    pricing = crm.add_container("Pricing interest 2026", ContainerKind.CAMPAIGN, [("Sent", False), ("Responded", True)])
    crm.add_container("Email health 2026", ContainerKind.CAMPAIGN, [("Checked", False), ("Bounced", True)])
    people = {
        "ada@northwind.example": ("Contact", "Attended"),
        "grace@contoso.example": ("Contact", "Registered"),
        "alan@fabrikam.example": ("Lead", "Registered"),
        "edsger@tailspin.example": ("Contact", "Invited"),
        "barbara@litware.example": ("Lead", "Attended"),
    }
    ids = {}
    for email, (kind, status) in people.items():
        ids[email] = crm.add_person(email, kind, first_name=email.split("@")[0].title(), company=email.split("@")[1])
        crm.add_member(webinar, ids[email], status)
    # The same person as a Lead and a Contact (a duplicate, common after list imports).
    crm.add_person("linus@initech.example", "Lead", company="Initech")
    crm.add_person("linus@initech.example", "Contact", company="Initech")
    # A converted lead: the webinar membership follows the contact.
    contact = crm.add_person("margaret@hooli.example", "Contact", company="Hooli")
    lead = crm.add_person("margaret@hooli.example", "Lead", company="Hooli")
    crm.add_member(webinar, lead, "Attended")
    crm.convert(lead, contact)
    # Contacts whose emails bounce in the MA system.
    crm.add_person("bounced@initech.example", "Contact", company="Initech")
    crm.add_person("soft@hooli.example", "Contact", company="Hooli")
    # A member added by hand to the pricing campaign: never touched by the rules.
    crm.add_member(pricing, crm.add_person("ken@umbrella.example", "Contact"), "Sent")


def _seed_ma(ma: MemoryData, now: datetime) -> None:
    ma.add_container("Webinar Q4 nurture", ContainerKind.STATIC_LIST)
    ma.add_container("Engaged last 30 days", ContainerKind.DYNAMIC_LIST)
    recent, old = (now - timedelta(days=3)).isoformat(), (now - timedelta(days=90)).isoformat()
    ma.add_person("ada@northwind.example", "contact", score=80, last_activity_at=recent)
    ma.add_person(
        "linus@initech.example",
        "contact",
        last_form_submitted="Pricing request",
        last_form_submitted_at=recent,
        score=55,
    )
    ma.add_person(
        "new.buyer@globex.example", "contact", last_form_submitted="Pricing request", last_form_submitted_at=recent
    )
    ma.add_person("stale@globex.example", "contact", last_form_submitted="Pricing request", last_form_submitted_at=old)
    ma.add_person(
        "bad address@globex.example", "contact", last_form_submitted="Pricing request", last_form_submitted_at=recent
    )
    ma.add_person("bounced@initech.example", "contact", hard_bounced=True)
    ma.add_person("soft@hooli.example", "contact", soft_bounce_count=5)
    ma.add_person("quiet@litware.example", "contact", last_activity_at=old, soft_bounce_count=1)


def run_demo(directory: Path, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Seed (first time only), write the client file, run every rule; return what happened."""
    say = progress or (lambda _msg: None)
    directory.mkdir(parents=True, exist_ok=True)
    crm_path, ma_path, config_path = directory / "crm.json", directory / "ma.json", directory / CONFIG_NAME
    first = not crm_path.exists()
    for store in ("demo-crm", "demo-ma"):
        drop_memory_store(store)
    if first:
        now = datetime.now(UTC)
        _seed_crm(MemoryData(crm_path))
        _seed_ma(MemoryData(ma_path), now)
    config_path.write_text(
        DEMO_CONFIG.format(
            config=config_path, state=(directory / "state.db").resolve(), crm=crm_path.resolve(), ma=ma_path.resolve()
        )
    )
    say(f"[bold]campaign-bridge demo[/bold]: {'seeded a new' if first else 'reusing the'} demo company in {directory}/")
    say(f"client file: {config_path} (read it, edit it, then `campaign-bridge plan {config_path}`)")
    config = load_config(config_path)
    runs = []
    with open_client(config) as client:
        engine = Engine(config, client.store, client.connectors)
        for rule in config.rules:
            report = engine.sync(rule.name)
            runs.append(report.as_json())
            if progress is not None:
                from campaign_bridge.cli import _print_report

                _print_report(report)
    changed = sum(r["counts"].get(k, 0) for r in runs for k in ("added", "removed", "status_changed"))
    say(
        f"{changed} changes applied; {sum(len(r['conflicts']) for r in runs)} conflicts logged. "
        + ("Run `campaign-bridge demo` again: it finds nothing to change." if changed else "Nothing to change.")
    )
    say(f"Why is someone (not) in a list?  campaign-bridge explain linus@initech.example -c {config_path}")
    return {"directory": str(directory), "config": str(config_path), "changes": changed, "runs": runs}
