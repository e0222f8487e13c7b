"""The demo company: a small Salesforce org and HubSpot portal with the awkward cases real ones have.

Northwind's sales team runs campaigns in Salesforce; its marketing team works in HubSpot. The seed has
campaigns with their own member statuses, a person who is both a Lead and a Contact, a converted lead, a
DYNAMIC HubSpot list, an address Salesforce refuses, and people who clicked, bounced or went quiet.
``campaign-bridge demo`` and ``campaign-bridge sandbox serve --seed demo`` both start from it; the rules
in ``campaign_bridge/demo.py`` are written against these names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaign_bridge.sandbox.hubspot.state import HubSpotState
from campaign_bridge.sandbox.salesforce.state import SalesforceState

WEBINAR = "Webinar 2026-Q4"
PRICING = "Pricing interest 2026"
EMAIL_HEALTH = "Email health 2026"
WIN_BACK = "Win-back 2026"
ENGAGEMENT = "Email engagement 2026"
NURTURE_LIST = "Webinar Q4 nurture"
CLICKED_LIST = "Clicked a marketing email"  # DYNAMIC: HubSpot computes it, nobody can write to it


def seed_salesforce(org: SalesforceState, now: datetime) -> None:
    """Campaigns, accounts, contacts and leads of the demo org (idempotent only on an empty org)."""
    day = now.astimezone(UTC).date()
    webinar = org.add_campaign(
        WEBINAR,
        type="Webinar",
        statuses=[("Invited", False), ("Registered", False), ("Attended", True)],
        StartDate=day - timedelta(days=20),
        EndDate=day + timedelta(days=40),
        BudgetedCost=12000,
    )
    pricing = org.add_campaign(PRICING, type="Other", statuses=[("Sent", False), ("Responded", True)])
    org.add_campaign(EMAIL_HEALTH, type="Email", statuses=[("Sent", False), ("Bounced", False)])
    org.add_campaign(WIN_BACK, type="Email", statuses=[("Sent", False), ("Gone quiet", False), ("Re-engaged", True)])
    org.add_campaign(ENGAGEMENT, type="Email", statuses=[("Sent", False), ("Opened", True), ("Clicked", True)])

    accounts = {
        name: org.add_account(name)
        for name in ("Northwind", "Contoso", "Tailspin", "Initech", "Hooli", "Litware", "Umbrella")
    }

    def contact(email: str, first: str, last: str, account: str) -> str:
        return org.add_contact(email, first_name=first, last_name=last, AccountId=accounts[account])

    # The webinar: registrants and attendees (Contacts and Leads), one who was only invited.
    org.add_member(webinar, contact("ada@northwind.example", "Ada", "Lovelace", "Northwind"), "Attended")
    org.add_member(webinar, contact("grace@contoso.example", "Grace", "Hopper", "Contoso"), "Registered")
    org.add_member(webinar, contact("edsger@tailspin.example", "Edsger", "Dijkstra", "Tailspin"), "Invited")
    alan = org.add_lead("alan@fabrikam.example", first_name="Alan", last_name="Turing", company="Fabrikam")
    org.add_member(webinar, alan, "Registered")
    barbara = org.add_lead("barbara@litware.example", first_name="Barbara", last_name="Liskov", company="Litware")
    org.add_member(webinar, barbara, "Attended")
    # A lead who attended and was then converted: the membership follows the new contact.
    margaret = org.add_lead("margaret@hooli.example", first_name="Margaret", last_name="Hamilton", company="Hooli")
    org.add_member(webinar, margaret, "Attended")
    org.convert_lead(margaret)
    # The same person twice: a Lead from a trade-show import and the Contact sales created later.
    org.add_lead("linus@initech.example", first_name="Linus", last_name="Torvalds", company="Initech")
    contact("linus@initech.example", "Linus", "Torvalds", "Initech")
    # People marketing will report on.
    contact("bounced@initech.example", "Bob", "Bounce", "Initech")
    contact("soft@hooli.example", "Sam", "Soft", "Hooli")
    contact("quiet@litware.example", "Quinn", "Quiet", "Litware")
    # A member sales added by hand: no rule ever removes them.
    org.add_member(pricing, contact("ken@umbrella.example", "Ken", "Thompson", "Umbrella"), "Sent")


def seed_hubspot(portal: HubSpotState, now: datetime) -> None:
    """Contacts with behaviour, a MANUAL list to fill and a DYNAMIC list to read."""
    recent = now - timedelta(days=3)
    old = now - timedelta(days=90)
    portal.add_list(NURTURE_LIST, "MANUAL")
    portal.add_list(
        CLICKED_LIST,
        "DYNAMIC",
        filter_branch={
            "filterBranchType": "OR",
            "filterBranches": [
                {
                    "filterBranchType": "AND",
                    "filters": [
                        {
                            "filterType": "PROPERTY",
                            "property": "hs_email_click",
                            "operation": {
                                "operationType": "NUMBER",
                                "operator": "IS_GREATER_THAN",
                                "value": 0,
                            },
                        }
                    ],
                }
            ],
        },
    )
    portal.add_contact(
        "ada@northwind.example",
        firstname="Ada",
        hubspotscore=80,
        hs_email_open=9,
        hs_email_click=3,
        hs_email_last_click_date=recent,
        notes_last_updated=recent,
    )
    portal.add_contact("grace@contoso.example", firstname="Grace", hs_email_open=2, hs_email_click=1)
    portal.add_contact(
        "linus@initech.example",
        firstname="Linus",
        hubspotscore=55,
        recent_conversion_event_name="Pricing request",
        recent_conversion_date=recent,
    )
    portal.add_contact(
        "new.buyer@globex.example",
        firstname="Nina",
        company="Globex",
        recent_conversion_event_name="Pricing request",
        recent_conversion_date=recent,
        hs_email_click=1,
    )
    portal.add_contact(
        "stale@globex.example", recent_conversion_event_name="Pricing request", recent_conversion_date=old
    )
    # Imported from a spreadsheet with a space in it: HubSpot kept it, Salesforce will refuse it.
    portal.add_contact(
        "bad address@globex.example", recent_conversion_event_name="Pricing request", recent_conversion_date=recent
    )
    portal.add_contact("bounced@initech.example", hs_email_hard_bounce_reason_enum="BAD_MAILBOX", hs_email_bounce=1)
    portal.add_contact("soft@hooli.example", hs_email_bounce=5)
    portal.add_contact("gone@wayne.example", hs_email_hard_bounce_reason_enum="BAD_MAILBOX", hs_email_bounce=1)
    portal.add_contact("quiet@litware.example", notes_last_updated=old, hs_email_bounce=1)
