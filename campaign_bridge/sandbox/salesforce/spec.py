"""The Salesforce sandbox as ``sandbox serve``, saved state and the demo see it (``SANDBOX``): what ``serve``
prints for it, and the demo company as Salesforce holds it (see ``demo_company``): sales' view of the
people, as Contacts of their Accounts or as Leads, in campaigns with their own member statuses. Saved
state is ``saved.py``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from campaign_bridge.mapping.semantics import Role

from ..demo_company import Company, CrmAs
from ..spec import DemoPart, SandboxFiles, SandboxSpec
from .sandbox import SalesforceSandbox
from .saved import dump_salesforce, load_salesforce

#: The REST API version the Salesforce sandbox is addressed with (simple-salesforce's default).
API_VERSION = "59.0"


def connection_info(sandbox: SalesforceSandbox, files: SandboxFiles) -> dict[str, Any]:
    """The instance (its own login host and My Domain), its CA, and a block for every login flow. The
    JWT flow names a key file, written beside the CA the first time."""
    creds = sandbox.credentials
    key_file = sandbox.ca_bundle.parent / "jwt-key.pem"
    if not key_file.exists():
        _write_private(key_file, creds["jwt_private_key_pem"])
    url = sandbox.instance_url
    return {
        "instance_url": url,
        "login_url": url,
        "token_url": f"{url}/services/oauth2/token",
        "soap_login_url": f"{url}/services/Soap/u/{API_VERSION}",
        "api_version": API_VERSION,
        "ca_bundle": str(sandbox.ca_bundle),
        "auth": {
            "client_credentials": {
                "method": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
            "password": {
                "method": "password",
                "username": creds["username"],
                "password": creds["password"],
                "security_token": creds["security_token"],
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
            "jwt_bearer": {
                "method": "jwt_bearer",
                "client_id": creds["client_id"],
                "username": creds["username"],
                "private_key_file": str(key_file),
            },
            "session": {"method": "session", "session_id": creds["session_id"]},
        },
    }


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def seed_demo(sandbox: SalesforceSandbox, company: Company, now: datetime) -> None:
    """Campaigns, Accounts, then each CRM record with its memberships, in order (into an empty org)."""
    org = sandbox.state
    day = now.astimezone(UTC).date()
    campaigns: dict[str, str] = {}
    for campaign in company.campaigns:
        planned: dict[str, Any] = {}
        if campaign.starts_in is not None:
            planned["StartDate"] = day + campaign.starts_in
        if campaign.ends_in is not None:
            planned["EndDate"] = day + campaign.ends_in
        if campaign.budget is not None:
            planned["BudgetedCost"] = campaign.budget
        campaigns[campaign.name] = org.add_campaign(
            campaign.name, type=campaign.type, statuses=list(campaign.statuses), **planned
        )
    accounts = {name: org.add_account(name) for name in company.accounts()}
    for rec in company.crm:
        person = rec.person
        names = {"first_name": person.first_name, "last_name": person.last_name}
        if rec.held_as is CrmAs.CONTACT:
            record_id = org.add_contact(person.email, **names, AccountId=accounts[person.company])
        else:
            record_id = org.add_lead(person.email, **names, company=person.company)
        for campaign_name, status in rec.campaigns:
            org.add_member(campaigns[campaign_name], record_id, status)
        if rec.held_as is CrmAs.CONVERTED_LEAD:
            org.convert_lead(record_id)  # after joining: the memberships follow the new Contact


#: The variable ``demo.yaml`` names the client secret by (its value is in ``demo.env``).
DEMO_SECRET_ENV = "CB_DEMO_SF_CLIENT_SECRET"


def demo_connection(info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The demo's connection: the client-credentials flow against the sandbox, its own login host (the
    sandbox is its own My Domain) and its test CA."""
    flow = info["auth"]["client_credentials"]
    settings = {
        "instance_url": info["instance_url"],
        "login_url": info["instance_url"],
        "ca_bundle": str(Path(info["ca_bundle"]).resolve()),
        "auth": {
            "method": "client_credentials",
            "client_id": flow["client_id"],
            "client_secret": f"${{{DEMO_SECRET_ENV}}}",
        },
    }
    return settings, {DEMO_SECRET_ENV: flow["client_secret"]}


SANDBOX: SandboxSpec[SalesforceSandbox] = SandboxSpec(
    name="salesforce",
    role=Role.CRM,
    build=lambda port, files: SalesforceSandbox(tls=files.tls(), port=port),
    connection_info=connection_info,
    seed_demo=seed_demo,
    dump=lambda sandbox: dump_salesforce(sandbox.state),
    load=lambda sandbox, data: load_salesforce(sandbox.state, data),
    demo=DemoPart(alias="sf", connection=demo_connection),
)
