"""What a Dynamics 365 environment tells ``discover`` and ``doctor`` (``connectors.discovery.SupportsDiscovery``).

* Member counts: a static list's ``membercount`` comes with the listing (no call). A dynamic list's members are
  whatever its FetchXML selects now; counting them is reading them, so it is left uncounted ("cannot tell").
* Access: the application user's privileges, two calls: ``WhoAmI`` (its ``UserId``), then
  ``systemusers({id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`` [D: Learn "RetrieveUserPrivileges
  Function"], whose ``RolePrivileges`` name each privilege (``prvReadContact``…). Each need maps to the
  privileges of the requests the connector makes (``PRIVILEGES``); a campaign response is an activity, so it
  takes the Activity privileges.
* Allowance: Dataverse reports no daily allowance (its service protection limits are a 5-minute window, kept
  by the pacer): None.
* Server time: the ``Date`` header of the environment's last answer, kept by a metering observer (no call).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from campaign_bridge.connectors.discovery import Allowance, DateWatch, Grant, Need, watch_dates
from campaign_bridge.connectors.dynamics.client import DataverseClient
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import Container

#: The privileges behind each need, as Dataverse names them (prv<Access><Table>).
PRIVILEGES: dict[Need, tuple[str, ...]] = {
    Need.READ_MEMBERS: ("prvReadList", "prvReadCampaign", "prvReadContact", "prvReadLead", "prvReadActivity"),
    Need.READ_PEOPLE: ("prvReadContact", "prvReadLead"),
    Need.READ_BEHAVIOUR: ("prvReadContact", "prvReadLead"),
    Need.WRITE_MEMBERS: ("prvWriteList", "prvAppendList", "prvAppendToContact", "prvCreateActivity"),
    Need.REMOVE_MEMBERS: ("prvWriteList",),
    Need.CREATE_PEOPLE: ("prvCreateContact", "prvCreateLead"),
}


class DynamicsDiscovery:
    """The ``SupportsDiscovery`` part of ``DynamicsConnector`` (a mixin over its ``client``)."""

    name: str
    client: DataverseClient

    def count_members(self, containers: Sequence[Container]) -> dict[str, int]:
        """The sizes the listing gave (static lists, campaigns of static lists); dynamic ones stay uncounted."""
        return {c.id: c.size for c in containers if c.size is not None}

    def check_access(self, needs: Collection[Need]) -> list[Grant]:
        """The application user's privileges (two calls), a ``Grant`` per privilege a need takes."""
        self._watch_dates()
        me = (self.client.call("GET", "WhoAmI").body or {}).get("UserId")
        if not me:
            raise TransientError(f"{self.name}: Dataverse's WhoAmI answered no UserId")
        answer = self.client.call("GET", f"systemusers({me})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()")
        held = {
            str(p.get("PrivilegeName")): str(p.get("Depth") or "")
            for p in (answer.body or {}).get("RolePrivileges") or ()
            if isinstance(p, dict)
        }
        grants = []
        for need in needs:
            for privilege in PRIVILEGES[need]:
                if privilege in held:
                    grants.append(Grant(need, True, f"{privilege} ({held[privilege] or 'held'})"))
                else:
                    grants.append(Grant(need, False, f"the application user lacks {privilege}", _fix(privilege)))
        return grants

    def allowance(self) -> Allowance | None:
        """None: Dataverse counts requests per 5-minute window, not per day."""
        return None

    def server_time(self) -> datetime | None:
        """The environment's clock at its last answer after ``check_access`` (no call of its own)."""
        return self._watch_dates().last

    def _watch_dates(self) -> DateWatch:
        return watch_dates(self.client.meter)


def _fix(privilege: str) -> str:
    table = privilege.removeprefix("prv")
    for access in ("AppendTo", "Append", "Create", "Read", "Write"):
        if table.startswith(access):
            table = f"{access} on {table.removeprefix(access)}"
            break
    return (
        f"Power Platform admin center → the environment → Security roles: give the application user's role "
        f"{table} (business unit level or wider)"
    )
