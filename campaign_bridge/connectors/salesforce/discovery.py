"""What a Salesforce org tells ``discover`` and ``doctor`` (``connectors.discovery.SupportsDiscovery``).

* Member counts: a campaign's ``NumberOfContacts + NumberOfLeads`` roll-ups come with the listing (no call);
  a campaign listed without them costs one ``SELECT COUNT() FROM CampaignMember`` query.
* Access: one describeGlobal (``GET /sobjects``) answers, for the integration user, whether each object is
  ``queryable``, ``createable``, ``updateable`` and ``deletable`` (Salesforce reports them as the user's
  profile and permission sets allow). One call, whatever the needs.
* Allowance: ``GET /limits``' ``DailyApiRequests`` (``Max``, ``Remaining``), over a rolling 24 hours.
* Server time: the ``Date`` header of the org's last answer, kept by a metering observer (no call).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from campaign_bridge.connectors.discovery import Allowance, DateWatch, Grant, Need, watch_dates
from campaign_bridge.connectors.salesforce.client import SalesforceClient
from campaign_bridge.connectors.salesforce.soql import soql_quote
from campaign_bridge.mapping.model import Container

#: The objects and describe permissions each need takes, in the words Setup uses for them.
NEEDS: dict[Need, tuple[tuple[str, str], ...]] = {
    Need.READ_MEMBERS: (("Campaign", "queryable"), ("CampaignMember", "queryable")),
    Need.READ_PEOPLE: (("Lead", "queryable"), ("Contact", "queryable")),
    Need.READ_BEHAVIOUR: (("Lead", "queryable"), ("Contact", "queryable")),
    Need.WRITE_MEMBERS: (("CampaignMember", "createable"), ("CampaignMember", "updateable")),
    Need.REMOVE_MEMBERS: (("CampaignMember", "deletable"),),
    Need.CREATE_PEOPLE: (("Lead", "createable"),),
}
#: Setup's name of each describe permission.
PERMISSION_WORDS = {"queryable": "Read", "createable": "Create", "updateable": "Edit", "deletable": "Delete"}


class SalesforceDiscovery:
    """The ``SupportsDiscovery`` part of ``SalesforceConnector`` (a mixin over its ``client``)."""

    name: str
    client: SalesforceClient

    def count_members(self, containers: Sequence[Container]) -> dict[str, int]:
        """Sizes the listing gave, and one COUNT() query per campaign listed without them."""
        counts: dict[str, int] = {}
        for c in containers:
            if c.size is not None:
                counts[c.id] = c.size
                continue
            page = self.client.first_page(f"SELECT COUNT() FROM CampaignMember WHERE CampaignId = {soql_quote(c.id)}")
            counts[c.id] = int(page.get("totalSize") or 0)
        return counts

    def check_access(self, needs: Collection[Need]) -> list[Grant]:
        """One describeGlobal; a ``Grant`` per object permission each need takes."""
        self._watch_dates()
        answer: Any = self.client.call("sobjects", lambda sf: sf.describe())
        rows = answer.get("sobjects", []) if isinstance(answer, dict) else []
        objects = {str(row.get("name")): row for row in rows if isinstance(row, dict)}
        grants: list[Grant] = []
        for need in needs:
            for sobject, permission in NEEDS[need]:
                row = objects.get(sobject)
                word = PERMISSION_WORDS[permission]
                if row is None:
                    grants.append(
                        Grant(need, False, f"{sobject}: not visible to the integration user", _fix(sobject, word))
                    )
                    continue
                granted = bool(row.get(permission))
                evidence = f"{sobject}: {word} {'granted' if granted else 'not granted'} (describe {permission})"
                grants.append(Grant(need, granted, evidence, "" if granted else _fix(sobject, word)))
        return grants

    def allowance(self) -> Allowance | None:
        """``DailyApiRequests`` from ``GET /limits`` (one call; it spends one of the allocation too)."""
        self._watch_dates()
        answer: Any = self.client.call("limits", lambda sf: sf.limits())
        daily = answer.get("DailyApiRequests") if isinstance(answer, dict) else None
        if (
            not isinstance(daily, dict)
            or not isinstance(daily.get("Max"), int)
            or not isinstance(daily.get("Remaining"), int)
        ):
            return None
        limit, remaining = int(daily["Max"]), int(daily["Remaining"])
        return Allowance(used=limit - remaining, limit=limit, period="rolling 24 hours", source="GET /limits")

    def server_time(self) -> datetime | None:
        """The org's clock at its last answer after ``check_access`` or ``allowance`` (no call of its own)."""
        return self._watch_dates().last

    def _watch_dates(self) -> DateWatch:
        return watch_dates(self.client.meter)


def _fix(sobject: str, word: str) -> str:
    return (
        f"in Setup, give the integration user '{word}' on {sobject} (Object Settings of its profile, or a "
        "permission set assigned to it)"
        + (
            "; adding campaign members also takes the user's 'Marketing User' checkbox"
            if sobject.startswith("Campaign")
            else ""
        )
    )
