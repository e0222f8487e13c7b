"""What an Account Engagement business unit tells ``discover`` and ``doctor`` (``SupportsDiscovery``).

* Member counts: v5 answers no total with a query (only pages and a ``nextPageToken``), so no list or
  campaign can be counted without reading its members: none is given (``discover`` shows them as unknown
  rather than spend a read on each).
* Access: v5 has no endpoint listing the integration user's role abilities, and the Salesforce describe the
  Salesforce connector asks answers for Salesforce objects, not for Account Engagement's abilities. Each
  need is reported as unknown, with the ability to give in Account Engagement's words. (That the token and
  business unit are accepted is what the listing ``doctor`` makes first shows.)
* Allowance: the daily allotment is the edition's (``settings.edition``, 25k/50k/100k/100k). v5 reports
  the business unit's usage only through the opt-in ``X-Return-Api-Usage`` header, whose value and answer
  format the reference does not confirm, so it is not asked: the usage given is campaign-bridge's own
  count of this connection's calls in this process, and the allowance's ``source`` says so. No call.
* Server time: the ``Date`` header of the business unit's last answer, kept by a metering observer the
  connector adds when it is made (no call).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from campaign_bridge.connectors.discovery import Allowance, DateWatch, Grant, Need, watch_dates
from campaign_bridge.connectors.pardot.client import PardotClient
from campaign_bridge.mapping.model import Container

#: The role abilities behind each need (Account Engagement Settings > User Management > Roles).
ABILITIES: dict[Need, str] = {
    Need.READ_MEMBERS: "Marketing > Segmentation > Lists > View, Marketing > Campaigns > View, Prospects > View",
    Need.READ_PEOPLE: "Prospects > Prospects > View",
    Need.READ_BEHAVIOUR: "Prospects > Prospects > View (and Visitor Activities > View for activity fields)",
    Need.WRITE_MEMBERS: "Marketing > Segmentation > Lists > Create, and Prospects > Prospects > Create (campaigns)",
    Need.REMOVE_MEMBERS: "Marketing > Segmentation > Lists > Delete, and Prospects > Prospects > Create (campaigns)",
    Need.CREATE_PEOPLE: "Prospects > Prospects > Create",
}
EVIDENCE = "Account Engagement's API does not list a role's abilities (a missing one is refused when used)"
#: Where the integration user's access is set up besides its role.
ACCESS_FIX = (
    "; the Salesforce user the connection logs in as must be synced to an Account Engagement user with access "
    "to business unit {bu} (Setup > Account Engagement > Business Unit Setup, or the Account Engagement "
    "integration user), and the connected app needs the pardot_api scope"
)


class PardotDiscovery:
    """The ``SupportsDiscovery`` part of ``PardotConnector`` (a mixin over its ``client``)."""

    name: str
    client: PardotClient

    def count_members(self, containers: Sequence[Container]) -> dict[str, int]:
        """Only the sizes the listing gave (v5 lists none): v5 counts nothing without reading the members."""
        return {c.id: c.size for c in containers if c.size is not None}

    def check_access(self, needs: Collection[Need]) -> list[Grant]:
        """Unknown for every need; each grant names the role ability to give. No call."""
        self._watch_dates()
        fix = ACCESS_FIX.format(bu=self.client.settings.business_unit_id)
        return [
            Grant(need, None, EVIDENCE, f"give the integration user's role: {ABILITIES[need]}{fix}") for need in needs
        ]

    def allowance(self) -> Allowance | None:
        """The edition's daily allotment against this connection's own count of its calls (no call)."""
        self._watch_dates()
        _, by_endpoint = self.client.budget.counts()
        calls = sum(n for endpoint, n in by_endpoint.items() if endpoint != "login")  # logins are Salesforce's
        settings = self.client.settings
        return Allowance(
            used=calls,
            limit=settings.daily_calls,
            period="per day",
            source=(
                f"the {settings.edition} edition's allotment; used counts only this process's calls "
                "(v5 does not report the business unit's usage)"
            ),
        )

    def server_time(self) -> datetime | None:
        """The business unit's clock at its last answer (the listing's; no call of its own)."""
        return self._watch_dates().last

    def _watch_dates(self) -> DateWatch:
        return watch_dates(self.client.meter)
