"""The Marketo sandbox as ``sandbox serve``, saved state and the demo see it (``SANDBOX``): what ``serve``
prints for it, and the demo company as Marketo holds it (see ``demo_company``): marketing's view of the
people as leads (one of them twice: Marketo allows duplicates), their e-mail, form and web activities, a
static list to fill, a smart list to read, the webinar as a program with its channel's statuses, and a
smart campaign (a flow, never a target). Saved state is ``saved.py``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from campaign_bridge.mapping.semantics import Role

from ..demo_company import WEBINAR, Company, MaRecord
from ..spec import DemoPart, SandboxFiles, SandboxSpec
from .sandbox import MarketoSandbox
from .saved import dump_marketo, load_marketo
from .state import (
    CLICK_EMAIL,
    EMAIL_BOUNCED,
    EMAIL_BOUNCED_SOFT,
    FILL_OUT_FORM,
    OPEN_EMAIL,
    VISIT_WEB_PAGE,
)

#: How long ago a click or open without a recorded date happened (older than the demo's 30-day rules).
UNDATED = timedelta(days=120)
WELCOME_FLOW = "Welcome flow"


def connection_info(sandbox: MarketoSandbox, files: SandboxFiles) -> dict[str, Any]:
    """The REST base URL (identity lives on the same host) and the API user's client credentials."""
    return {
        "base_url": sandbox.url,
        "identity_url": f"{sandbox.url}/identity",
        "auth": {
            "client_credentials": {
                "method": "client_credentials",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
            }
        },
    }


def seed_demo(sandbox: MarketoSandbox, company: Company, now: datetime) -> None:
    """The company's lists, the webinar program, then its MA records as leads with their activities."""
    state = sandbox.state
    for ma_list in company.lists:
        if ma_list.clicked:
            state.add_smart_list(ma_list.name, {"activityTypeId": CLICK_EMAIL, "days": 3650})
        else:
            state.add_list(ma_list.name)
    state.add_program(WEBINAR, channel="Webinar", type="Event")
    state.add_smart_campaign(WELCOME_FLOW)
    for rec in company.ma:
        _add(sandbox, rec, now)
        if rec.form is not None and rec.score is not None:
            # A known, scored lead filled out the form again: Marketo's form dedupe missed (a cookie from
            # another browser), so the instance holds a second lead with the same address.
            _add(sandbox, rec, now, duplicate=True)


def _add(sandbox: MarketoSandbox, rec: MaRecord, now: datetime, *, duplicate: bool = False) -> int:
    state, person = sandbox.state, rec.person
    fields: dict[str, Any] = {}
    if rec.named and person.first_name:
        fields["firstName"] = person.first_name
    if rec.named and person.last_name:
        fields["lastName"] = person.last_name
    if rec.with_company and person.company:
        fields["company"] = person.company
    if rec.score is not None and not duplicate:
        fields["leadScore"] = rec.score
    lead = state.add_lead(person.email, **fields)
    if duplicate:
        return lead

    def at(ago: timedelta | None) -> float:
        return (now - (ago or UNDATED)).timestamp()

    for _ in range(rec.opens):
        state.log_activity(lead, OPEN_EMAIL, "Newsletter", at=at(rec.last_click_ago))
    for _ in range(rec.clicks):
        state.log_activity(lead, CLICK_EMAIL, "Newsletter", at=at(rec.last_click_ago))
    if rec.form is not None:
        state.log_activity(lead, FILL_OUT_FORM, rec.form[0], at=at(rec.form[1]))
    if rec.last_activity_ago is not None:
        state.log_activity(lead, VISIT_WEB_PAGE, "/pricing", at=at(rec.last_activity_ago))
    if rec.hard_bounced:
        state.log_activity(lead, EMAIL_BOUNCED, "Newsletter", at=at(None))
    for _ in range(rec.bounces - (1 if rec.hard_bounced else 0)):
        state.log_activity(lead, EMAIL_BOUNCED_SOFT, "Newsletter", at=at(None))
    return lead


#: The variables ``demo.yaml`` names the API user's client credentials by (their values are in ``demo.env``).
DEMO_ID_ENV, DEMO_SECRET_ENV = "CB_DEMO_MK_CLIENT_ID", "CB_DEMO_MK_CLIENT_SECRET"

#: Demo rules Marketo cannot read server-side: segments with no activity window to select by.
_NO_DRIVER = (
    "Marketo can only select a segment by an activity within a window (its activities API); {what} would "
    "need every lead of the instance. In Marketo, build it as a smart list and use that as the source"
)
CANNOT = {
    "bounces-to-crm": _NO_DRIVER.format(what="hard bounces and bounce counts"),
    "gone-quiet-to-winback": _NO_DRIVER.format(what="'no activity for 60 days'"),
}


def demo_connection(info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The demo's connection: the API user's client credentials against the sandbox."""
    creds = info["auth"]["client_credentials"]
    settings = {
        "base_url": info["base_url"],
        "auth": {
            "method": "client_credentials",
            "client_id": f"${{{DEMO_ID_ENV}}}",
            "client_secret": f"${{{DEMO_SECRET_ENV}}}",
        },
    }
    return settings, {DEMO_ID_ENV: creds["client_id"], DEMO_SECRET_ENV: creds["client_secret"]}


SANDBOX: SandboxSpec[MarketoSandbox] = SandboxSpec(
    name="marketo",
    role=Role.MA,
    build=lambda port, files: MarketoSandbox(port=port),
    connection_info=connection_info,
    seed_demo=seed_demo,
    dump=dump_marketo,
    load=load_marketo,
    demo=DemoPart(alias="mk", connection=demo_connection, cannot=CANNOT),
)
