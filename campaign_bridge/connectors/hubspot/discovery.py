"""What a HubSpot portal tells ``discover`` and ``doctor`` (``connectors.discovery.SupportsDiscovery``).

* Member counts: a list's ``hs_list_size`` comes with the lists search (no call); a list listed without it
  costs one ``GET /crm/v3/lists/{listId}`` (its ``size``).
* Access: the token's granted scopes, one call: a private app's from
  ``POST /oauth/v2/private-apps/get/access-token-info`` (``{"tokenKey": …}``), an OAuth app's from
  ``GET /oauth/v1/access-tokens/{token}``. Each need maps to the scope HubSpot's API reference names for
  the endpoints the connector calls (``SCOPES``).
* Allowance: ``X-HubSpot-RateLimit-Daily`` and ``-Daily-Remaining``, which HubSpot sends to private apps
  only; read from the last answer (one lists search of one row when none was made yet). Reset at midnight
  in the portal's time zone.
* Server time: the ``Date`` header of the portal's last answer, kept by a metering observer (no call).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from campaign_bridge.connectors.discovery import Allowance, DateWatch, Grant, Need, watch_dates
from campaign_bridge.connectors.hubspot.client import HubSpotClient, Reply
from campaign_bridge.connectors.hubspot.settings import PrivateAppAuth
from campaign_bridge.mapping.model import Container

#: The scope behind each need: lists (``crm.lists.*``) and contacts (``crm.objects.contacts.*``).
SCOPES: dict[Need, str] = {
    Need.READ_MEMBERS: "crm.lists.read",
    Need.READ_PEOPLE: "crm.objects.contacts.read",
    Need.READ_BEHAVIOUR: "crm.objects.contacts.read",
    Need.WRITE_MEMBERS: "crm.lists.write",
    Need.REMOVE_MEMBERS: "crm.lists.write",
    Need.CREATE_PEOPLE: "crm.objects.contacts.write",
}
PRIVATE_APP_TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"


class HubSpotDiscovery:
    """The ``SupportsDiscovery`` part of ``HubSpotConnector`` (a mixin over its ``client``)."""

    name: str
    client: HubSpotClient

    def count_members(self, containers: Sequence[Container]) -> dict[str, int]:
        """Sizes the lists search gave, and one list read per list listed without one."""
        counts: dict[str, int] = {}
        for c in containers:
            if c.size is not None:
                counts[c.id] = c.size
                continue
            reply = self.client.call("lists.get", partial(self._get_list, c.id))
            row = reply.obj().get("list")
            size = row.get("size") if isinstance(row, dict) else None
            if isinstance(size, int):
                counts[c.id] = size
        return counts

    def _get_list(self, list_id: str, options: dict[str, Any]) -> Any:
        return self.client.lists.get_by_id(list_id, **options)

    def check_access(self, needs: Collection[Need]) -> list[Grant]:
        """The token's scopes (one call), a ``Grant`` per need."""
        self._watch_dates()
        private = isinstance(self.client.settings.auth, PrivateAppAuth)
        info = self._token_info(private).obj()
        granted = {str(s) for s in info.get("scopes") or () if isinstance(s, str)}
        where = "the private app's" if private else "the OAuth app's"
        grants = []
        for need in needs:
            scope = SCOPES[need]
            if scope in granted:
                grants.append(Grant(need, True, f"scope {scope} granted"))
            else:
                grants.append(Grant(need, False, f"scope {scope} not granted to {where} token", _fix(scope, private)))
        return grants

    def allowance(self) -> Allowance | None:
        """The daily limit HubSpot reported to a private app; None for an OAuth app (HubSpot sends it none)."""
        if not isinstance(self.client.settings.auth, PrivateAppAuth):
            return None
        used, limit, _ = self.client.daily.reading()
        if used is None or limit is None:
            body: dict[str, Any] = {"query": "", "offset": 0, "count": 1}
            self.client.call("lists.search", lambda o: self.client.lists.do_search(body, **o))
            used, limit, _ = self.client.daily.reading()
        if used is None or not limit:
            return None
        return Allowance(used, limit, "today (midnight in the portal's time zone)", "X-HubSpot-RateLimit-Daily headers")

    def server_time(self) -> datetime | None:
        """The portal's clock at its last answer after ``check_access`` or ``allowance`` (no call of its own)."""
        return self._watch_dates().last

    def _token_info(self, private: bool) -> Reply:
        client = self.client
        api = client._api("access_tokens", lambda: client._hubspot.oauth.access_tokens_api)

        def private_app(token: str | None, options: dict[str, Any]) -> Any:
            url = f"{api.api_client.configuration.host}{PRIVATE_APP_TOKEN_INFO}"
            return api.api_client.rest_client.request(
                "POST",
                url,
                headers={"Content-Type": "application/json"},
                body={"tokenKey": token},
                _preload_content=options["_preload_content"],
                _request_timeout=options["_request_timeout"],
            )

        if private:
            return client.loop.call(
                lambda token: client.send_paced("oauth.private_app_token_info", lambda o: private_app(token, o))
            )
        return client.loop.call(lambda token: client.send_paced("oauth.access_tokens", lambda o: api.get(token, **o)))

    def _watch_dates(self) -> DateWatch:
        return watch_dates(self.client.meter)


def _fix(scope: str, private: bool) -> str:
    if private:
        return (
            f"in HubSpot, Settings → Integrations → Private Apps → this app → Scopes: tick {scope}, commit, "
            "and put the token HubSpot then shows in the environment variable this connection names"
        )
    return f"add {scope} to the OAuth app's scopes, have the portal's admin install it again, and use the new refresh token"
