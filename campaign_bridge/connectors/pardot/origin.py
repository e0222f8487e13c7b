"""Who added a member (``SupportsMemberOrigin``): after a killed run, how the next run tells its own adds
from a person's (``sync/intents.py``).

A list membership records ``createdById``, the Account Engagement user who created it [T: v5 object
reference, as digested in api-evangelist/pardot's data model]. Our user is the one synced with the
Salesforce user the connection logs in as (the token's identity; ``users`` carry ``salesforceId`` [U]).
A bare session id names no user, so then nobody's adds are claimed (the safe side). A prospect's campaign
records no author: a campaign member is reported present with its origin unknown.
"""

from __future__ import annotations

from collections.abc import Sequence

from campaign_bridge.connectors.base import MemberOrigin
from campaign_bridge.connectors.pardot.client import PardotClient
from campaign_bridge.connectors.pardot.errors import PardotNotFoundError
from campaign_bridge.mapping.model import Container, ContainerKind, RecordRef

#: Up to this many refs are asked about one query each; more read the list's memberships once.
PER_REF = 5


class Origins:
    def __init__(self, client: PardotClient) -> None:
        self.client = client
        self._own: str | None = None
        self._looked = False

    def own_user(self) -> str | None:
        """Our Account Engagement user's id, or None when the login names no Salesforce user."""
        if not self._looked:
            self.client.login.current()
            salesforce_user = self.client.login.user_id
            if salesforce_user:
                users = [u for page in self.client.pages("users", ["id", "salesforceId"], {}) for u in page]
                mine = [u for u in users if str(u.get("salesforceId") or "")[:15] == salesforce_user[:15]]
                self._own = str(mine[0]["id"]) if mine else None
            self._looked = True
        return self._own

    def of(self, container: Container, refs: Sequence[RecordRef]) -> dict[str, MemberOrigin]:
        if container.kind is ContainerKind.EXCLUSIVE_CAMPAIGN:
            return self._campaign(container, refs)
        own = self.own_user()
        wanted = {r.id for r in refs}
        if len(wanted) <= PER_REF:
            rows = [
                row
                for pid in sorted(wanted)
                for page in self.client.pages(
                    "list-memberships", ["prospectId", "createdById"], {"listId": container.id, "prospectId": pid}
                )
                for row in page
            ]
        else:
            pages = self.client.pages("list-memberships", ["prospectId", "createdById"], {"listId": container.id})
            rows = [row for page in pages for row in page if str(row["prospectId"]) in wanted]
        return {
            str(row["prospectId"]): MemberOrigin(None, None if own is None else str(row.get("createdById")) == own)
            for row in rows
        }

    def _campaign(self, container: Container, refs: Sequence[RecordRef]) -> dict[str, MemberOrigin]:
        out: dict[str, MemberOrigin] = {}
        for ref in refs:
            try:
                body = self.client.call(
                    "GET", f"/api/v5/objects/prospects/{ref.id}", params={"fields": "id,campaignId"}
                ).body
            except PardotNotFoundError:
                continue
            if isinstance(body, dict) and str(body.get("campaignId")) == container.id:
                out[ref.id] = MemberOrigin(None, None)
        return out
