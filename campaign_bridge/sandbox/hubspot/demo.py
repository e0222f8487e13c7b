"""The demo company as HubSpot holds it (see ``demo_company``): marketing's view of the people, with
their e-mail behaviour, forms and bounces, a MANUAL list to fill and a DYNAMIC list to read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..demo_company import Company, MaList, MaRecord
from .sandbox import HubSpotSandbox

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
