"""What a Marketo instance tells ``discover`` and ``doctor`` (``connectors.discovery.SupportsDiscovery``).

* Member counts: Marketo's REST API counts no list or program without reading it, so none is given
  (``discover`` reports them as unknown rather than spend a read on each).
* Access: no endpoint lists an API user's role permissions; a missing one shows as error 603 ("Access
  denied") on the call that needs it. Each need is reported as unknown, with the permission it takes.
* Allowance: ``GET /rest/v1/stats/usage.json`` counts today's calls (one call); the limit is the instance's
  daily quota, which the API does not report: ``daily_quota`` in the connection's settings (50,000 by
  default). The day resets at midnight US Central.
* Server time: the ``Date`` header of the instance's last answer, kept by a metering observer (no call).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from campaign_bridge.connectors.discovery import Allowance, DateWatch, Grant, Need, watch_dates
from campaign_bridge.connectors.marketo.client import MarketoClient
from campaign_bridge.mapping.model import Container

#: The role permission behind each need (Admin > Users & Roles > Roles > Access API).
PERMISSIONS: dict[Need, str] = {
    Need.READ_MEMBERS: "Read-Only Lead (and Read-Only Assets for programs and smart lists)",
    Need.READ_PEOPLE: "Read-Only Lead",
    Need.READ_BEHAVIOUR: "Read-Only Activity and Read-Only Lead",
    Need.WRITE_MEMBERS: "Read-Write Lead (and Read-Write Assets for programs)",
    Need.REMOVE_MEMBERS: "Read-Write Lead (and Read-Write Assets for programs)",
    Need.CREATE_PEOPLE: "Read-Write Lead",
}


class MarketoDiscovery:
    """The ``SupportsDiscovery`` part of ``MarketoConnector`` (a mixin over its ``client``)."""

    name: str
    client: MarketoClient

    def count_members(self, containers: Sequence[Container]) -> dict[str, int]:
        """None can be counted without reading the members."""
        return {c.id: c.size for c in containers if c.size is not None}

    def check_access(self, needs: Collection[Need]) -> list[Grant]:
        """Unknown for every need: Marketo lists no role permissions; the grant names the one to give."""
        self._watch_dates()
        return [
            Grant(
                need,
                None,
                "Marketo's API does not list a role's permissions (a missing one answers 603 when used)",
                f"give the API user's role: {PERMISSIONS[need]}",
            )
            for need in needs
        ]

    def allowance(self) -> Allowance | None:
        """Today's calls (``stats/usage.json``, one call) against the connection's ``daily_quota``."""
        self._watch_dates()
        rows = self.client.call("GET", "/rest/v1/stats/usage.json").get("result") or []
        used = sum(int(row.get("total") or 0) for row in rows if isinstance(row, dict))
        return Allowance(used, self.client.settings.daily_quota, "today (US Central)", "GET /rest/v1/stats/usage.json")

    def server_time(self) -> datetime | None:
        return self._watch_dates().last

    def _watch_dates(self) -> DateWatch:
        return watch_dates(self.client.meter)
