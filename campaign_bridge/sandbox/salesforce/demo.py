"""The demo company as Salesforce holds it (see ``demo_company``): sales' view of the people, as
Contacts of their Accounts or as Leads, in campaigns with their own member statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..demo_company import Company, CrmAs
from .sandbox import SalesforceSandbox


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
