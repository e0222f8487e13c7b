"""The HubSpot sandbox as ``sandbox serve``, saved state and the demo see it (``SANDBOX``): what ``serve``
prints for it, and the demo company as HubSpot holds it (see ``demo_company``): marketing's view of the
people, with their e-mail behaviour, forms and bounces, a MANUAL list to fill and a DYNAMIC list to read.
Saved state is ``saved.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from campaign_bridge.mapping.semantics import Role

from ..demo_company import Company, MaList, MaRecord
from ..spec import DemoPart, SandboxFiles, SandboxSpec
from .sandbox import HubSpotSandbox
from .saved import dump_hubspot, load_hubspot


def connection_info(sandbox: HubSpotSandbox, files: SandboxFiles) -> dict[str, Any]:
    """The base URL, the OAuth token URL, and a private-app token and an OAuth app (with a refresh token)."""
    url = sandbox.url
    return {
        "base_url": url,
        "token_url": f"{url}/oauth/v1/token",
        "auth": {
            "private_app": {"method": "private_app", "token": sandbox.token},
            "oauth": {"method": "oauth", **sandbox.oauth},
        },
    }


#: "Clicked a marketing email" as HubSpot defines a DYNAMIC list: contacts with a click counted.
_CLICKED_FILTER: dict[str, Any] = {
    "filterBranchType": "OR",
    "filterBranches": [
        {
            "filterBranchType": "AND",
            "filters": [
                {
                    "filterType": "PROPERTY",
                    "property": "hs_email_click",
                    "operation": {"operationType": "NUMBER", "operator": "IS_GREATER_THAN", "value": 0},
                }
            ],
        }
    ],
}
#: The reason HubSpot records for a hard bounce from an address that does not exist.
_HARD_BOUNCE_REASON = "BAD_MAILBOX"


def seed_demo(sandbox: HubSpotSandbox, company: Company, now: datetime) -> None:
    """The company's lists, then its MA records as contacts, in order (into an empty portal)."""
    portal = sandbox.state
    for ma_list in company.lists:
        _add_list(sandbox, ma_list)
    for rec in company.ma:
        portal.add_contact(rec.person.email, **_properties(rec, now))


def _add_list(sandbox: HubSpotSandbox, ma_list: MaList) -> None:
    if ma_list.clicked:
        sandbox.state.add_list(ma_list.name, "DYNAMIC", filter_branch=_CLICKED_FILTER)
    else:
        sandbox.state.add_list(ma_list.name, "MANUAL")


def _properties(rec: MaRecord, now: datetime) -> dict[str, object]:
    """Contact properties for what marketing knows; a fact never recorded is left unset, as HubSpot does."""
    props: dict[str, object] = {}
    if rec.named and rec.person.first_name:
        props["firstname"] = rec.person.first_name
    if rec.with_company and rec.person.company:
        props["company"] = rec.person.company
    if rec.score is not None:
        props["hubspotscore"] = rec.score
    if rec.opens:
        props["hs_email_open"] = rec.opens
    if rec.clicks:
        props["hs_email_click"] = rec.clicks
    if rec.last_click_ago is not None:
        props["hs_email_last_click_date"] = now - rec.last_click_ago
    if rec.last_activity_ago is not None:
        props["notes_last_updated"] = now - rec.last_activity_ago
    if rec.form is not None:
        props["recent_conversion_event_name"] = rec.form[0]
        props["recent_conversion_date"] = now - rec.form[1]
    if rec.hard_bounced:
        props["hs_email_hard_bounce_reason_enum"] = _HARD_BOUNCE_REASON
    if rec.bounces:
        props["hs_email_bounce"] = rec.bounces
    return props


#: The variable ``demo.yaml`` names the private app's token by (its value is in ``demo.env``).
DEMO_TOKEN_ENV = "CB_DEMO_HS_TOKEN"


def demo_connection(info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The demo's connection: a private app's token against the sandbox."""
    settings = {"base_url": info["base_url"], "auth": {"method": "private_app", "token": f"${{{DEMO_TOKEN_ENV}}}"}}
    return settings, {DEMO_TOKEN_ENV: info["auth"]["private_app"]["token"]}


SANDBOX: SandboxSpec[HubSpotSandbox] = SandboxSpec(
    name="hubspot",
    role=Role.MA,
    build=lambda port, files: HubSpotSandbox(port=port),
    connection_info=connection_info,
    seed_demo=seed_demo,
    dump=dump_hubspot,
    load=load_hubspot,
    demo=DemoPart(alias="hs", connection=demo_connection),
)
