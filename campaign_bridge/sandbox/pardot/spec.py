"""The Account Engagement sandbox as ``sandbox serve``, saved state and the demo see it (``SANDBOX``).

``serve`` prints a self-contained section: the v5 base URL, the business unit id, and the org's login URL
(this same server) with a block for every Salesforce login flow. The demo company as Pardot holds it:
marketing's prospects with scores, activity and form submissions, each in one campaign (first touch), the
company's campaigns as connected campaigns, a static list to fill and a dynamic list nobody can write, and
Linus twice (AMPSEA: one prospect tied to his Salesforce Lead, one to his Contact). The address with a
space is not there: Account Engagement refuses it at creation.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from campaign_bridge.mapping.semantics import Role

from ..demo_company import LINUS, Company, MaRecord
from ..spec import DemoPart, SandboxFiles, SandboxSpec
from .sandbox import PardotSandbox
from .saved import dump_pardot, load_pardot
from .state import PardotState, Prospect

#: Visitor-activity types [U: Pardot's table]: a click, a form success, an e-mail open.
CLICK, FORM_SUCCESS, EMAIL_OPEN = 1, 4, 11
#: The demo's e-mail and form ids (any number: they name assets the demo does not model).
DEMO_EMAIL_ID, DEMO_FORM_ID = 5001, 6001
#: When a click's time is not known, it is this old.
OLD_DEFAULT = timedelta(days=45)


def connection_info(sandbox: PardotSandbox, files: SandboxFiles) -> dict[str, Any]:
    """Base URL, business unit and one block per Salesforce login flow (the org's login is this server)."""
    creds = sandbox.org.credentials
    key_file = files.folder / "pardot-jwt-key.pem"
    if not key_file.exists():
        files.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(creds.jwt_private_key_pem)
    url = sandbox.url
    return {
        "base_url": url,
        "login_url": url,
        "token_url": f"{url}/services/oauth2/token",
        "business_unit_id": sandbox.business_unit_id,
        "auth": {
            "client_credentials": {
                "method": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
            "password": {
                "method": "password",
                "username": creds.username,
                "password": creds.password,
                "security_token": creds.security_token,
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
            "jwt_bearer": {
                "method": "jwt_bearer",
                "client_id": creds.client_id,
                "username": creds.username,
                "private_key_file": str(Path(key_file)),
            },
            "session": {"method": "session", "session_id": sandbox.token()},
        },
    }


def seed_demo(sandbox: PardotSandbox, company: Company, now: datetime) -> None:
    """Campaigns (connected), lists, then each MA record as a prospect with its activities."""
    state = sandbox.state
    first = None
    for n, campaign in enumerate(company.campaigns):
        made = state.add_campaign(campaign.name, salesforce_id=f"7015g00000DEMO{n:02d}AAA")
        first = first or made
    state.add_campaign("Partner referrals")
    for ma_list in company.lists:
        if ma_list.clicked:
            state.add_list(ma_list.name, rule=partial(_clicked, state))
        else:
            state.add_list(ma_list.name)
    for rec in company.ma:
        if " " in rec.person.email:
            continue  # Account Engagement refuses an address with a space
        pid = state.add_prospect(rec.person.email, campaign_id=first, **_fields(rec))
        _activities(state, pid, rec, now)
        if rec.person == LINUS:
            state.update_prospect(pid, salesforce_id="00Q5g00000DEMOLNAAA")
            twin = state.add_prospect(rec.person.email, campaign_id=state.default_campaign, **_fields(rec))
            state.update_prospect(twin, salesforce_id="0035g00000DEMOLNAAA")


def _clicked(state: PardotState, prospect: Prospect) -> bool:
    return any(a.prospect_id == prospect.id and a.type == CLICK and a.email_id for a in state.activities.values())


def _fields(rec: MaRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"score": rec.score or 0}
    if rec.named:
        out["first_name"] = rec.person.first_name or None
        out["last_name"] = rec.person.last_name or None
    if rec.with_company:
        out["company"] = rec.person.company or None
    return out


def _activities(state: PardotState, pid: int, rec: MaRecord, now: datetime) -> None:
    if rec.clicks:
        state.add_activity(
            pid, CLICK, now - (rec.last_click_ago or rec.last_activity_ago or OLD_DEFAULT), email_id=DEMO_EMAIL_ID
        )
    if rec.form is not None:
        state.add_activity(pid, FORM_SUCCESS, now - rec.form[1], form_id=DEMO_FORM_ID)
    if rec.last_activity_ago is not None:
        state.update_prospect(pid, last_activity_at=now - rec.last_activity_ago)


#: ``demo.env``'s name for the connected app's secret.
DEMO_SECRET_ENV = "CB_DEMO_PARDOT_CLIENT_SECRET"


def demo_connection(info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The demo's connection: the business unit, reached with the org's client-credentials login."""
    cc = info["auth"]["client_credentials"]
    settings = {
        "business_unit_id": info["business_unit_id"],
        "base_url": info["base_url"],
        "login_url": info["login_url"],
        "removal_campaign": "Partner referrals",
        "auth": {
            "method": "client_credentials",
            "client_id": cc["client_id"],
            "client_secret": f"${{{DEMO_SECRET_ENV}}}",
        },
    }
    return settings, {DEMO_SECRET_ENV: cc["client_secret"]}


#: Demo rules Account Engagement cannot run, and why.
DEMO_CANNOT = {
    "pricing-requests-to-crm": "its segment names the form submitted (last_form_submitted); v5's visitor "
    "activities name a form by id only, so the connector offers last_form_submitted_at, not the form's name",
    "bounces-to-crm": "bounces (hard_bounced, soft_bounce_count) are not among the fields the connector "
    "translates for v5",
}

SANDBOX: SandboxSpec[PardotSandbox] = SandboxSpec(
    name="pardot",
    role=Role.MA,
    build=lambda port, files: PardotSandbox(port=port),
    connection_info=connection_info,
    seed_demo=seed_demo,
    dump=dump_pardot,
    load=load_pardot,
    demo=DemoPart(alias="pd", connection=demo_connection, cannot=DEMO_CANNOT),
)
