"""The Dynamics 365 sandbox as ``sandbox serve``, saved state and the demo see it (``SANDBOX``).

The demo company as Dynamics holds it: contacts and leads (Linus twice, Margaret a qualified lead whose
contact came from her), each demo campaign with a static contact list and a static lead list linked to it
(a member's status is a campaign response whose code carries the status label), and "Engaged Northwind
contacts", a dynamic list, linked to the webinar. "Imported attendees (locked)" is a locked list: nothing
can be added to it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from campaign_bridge.mapping.semantics import Role

from ..demo_company import WEBINAR, Company, CrmAs
from ..spec import DemoPart, SandboxFiles, SandboxSpec
from .sandbox import DynamicsSandbox
from .saved import dump_dynamics, load_dynamics

#: A dynamic list: contacts of northwind.example (FetchXML, as Dynamics stores it in ``list.query``).
ENGAGED_QUERY = (
    '<fetch><entity name="contact"><attribute name="contactid"/><attribute name="emailaddress1"/>'
    '<filter type="and"><condition attribute="emailaddress1" operator="like" value="%@northwind.example"/>'
    "</filter></entity></fetch>"
)


def connection_info(sandbox: DynamicsSandbox, files: SandboxFiles) -> dict[str, Any]:
    """The organisation URL, the tenant's authority, the CA, and the app's secret and certificate."""
    creds = sandbox.credentials()
    return {
        "url": sandbox.url,
        "authority_host": sandbox.url,
        "tenant_id": creds["tenant_id"],
        "ca_bundle": str(sandbox.ca_bundle),
        "auth": {
            "client_secret": {
                "method": "client_secret",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
            "certificate": {
                "method": "certificate",
                "client_id": creds["client_id"],
                "private_key_file": creds["private_key_file"],
                "thumbprint": creds["thumbprint"],
            },
        },
    }


def seed_demo(sandbox: DynamicsSandbox, company: Company, now: datetime) -> None:
    """Campaigns with a contact list and a lead list each, the people, their memberships and responses."""
    state = sandbox.state
    state.response_codes = _codes(company)
    campaigns: dict[str, tuple[str, str, str]] = {}
    for campaign in company.campaigns:
        cid = state.add_campaign(campaign.name, budgetedcost=campaign.budget)
        contacts = state.add_list(f"{campaign.name} contacts", "contact", campaign=cid)
        leads = state.add_list(f"{campaign.name} leads", "lead", campaign=cid)
        campaigns[campaign.name] = (cid, contacts, leads)
    for rec in company.crm:
        p = rec.person
        if rec.held_as is CrmAs.CONTACT:
            record, slot = state.add_contact(p.email, p.first_name, p.last_name or "Unknown"), 1
        else:
            record, slot = state.add_lead(p.email, p.first_name, p.last_name or "Unknown", p.company), 2
        for name, status in rec.campaigns:
            cid = campaigns[name][0]
            state.add_member(campaigns[name][slot], record)
            state.add_response(cid, record, dict(state.response_codes)[status], f"{status}: {p.email}")
        if rec.held_as is CrmAs.CONVERTED_LEAD:
            state.qualify_lead(record)
    webinar = campaigns[WEBINAR][0]
    state.add_list("Engaged Northwind contacts", "contact", query=ENGAGED_QUERY, campaign=webinar)
    state.add_list("Imported attendees (locked)", "contact", locked=True, campaign=webinar)


#: The variable ``demo.env`` holds the app's client secret in.
DEMO_SECRET_ENV = "CB_DEMO_DYNAMICS_CLIENT_SECRET"


def demo_connection(info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The demo's connection: the app's client secret against the sandbox's own tenant, its test CA."""
    flow = info["auth"]["client_secret"]
    settings = {
        "url": info["url"],
        "tenant_id": info["tenant_id"],
        "authority_host": info["authority_host"],
        "ca_bundle": str(Path(info["ca_bundle"]).resolve()),
        "auth": {"method": "client_secret", "client_id": flow["client_id"], "client_secret": f"${{{DEMO_SECRET_ENV}}}"},
    }
    return settings, {DEMO_SECRET_ENV: flow["client_secret"]}


def demo_endpoint(written: dict[str, Any]) -> dict[str, Any]:
    """A demo campaign target is its static contact list, linked to it by ``seed_demo``: a Dynamics campaign
    holds no members itself. Sources stay as written (a campaign reads all its lists)."""
    if "campaign" in written and "status" in written:
        return {**written, "list": f"{written['campaign']} contacts"}
    return written


DEMO = DemoPart(
    alias="d365",
    connection=demo_connection,
    endpoint=demo_endpoint,
    cannot={
        "pricing-requests-to-crm": "a marketing list holds one kind of person, and this rule matches contacts but "
        "creates leads (for Dynamics, write it with create_missing: contact)",
    },
)


def _codes(company: Company) -> tuple[tuple[str, int], ...]:
    """The response code option set: the demo's status labels in campaign order, then the org's own."""
    labels: list[str] = []
    for campaign in company.campaigns:
        for label, _ in campaign.statuses:
            if label not in labels:
                labels.append(label)
    return tuple((label, i + 1) for i, label in enumerate(labels))


SANDBOX: SandboxSpec[DynamicsSandbox] = SandboxSpec(
    name="dynamics",
    role=Role.CRM,
    build=lambda port, files: DynamicsSandbox(files=files, port=port),
    connection_info=connection_info,
    seed_demo=seed_demo,
    dump=dump_dynamics,
    load=load_dynamics,
    demo=DEMO,
)
