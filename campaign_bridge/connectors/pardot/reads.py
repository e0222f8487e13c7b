"""Reads: list memberships, a campaign's prospects, the prospect index, visitor activities.

Queries page 1,000 records at a time. A full read that needs more than one page goes through the export
API when ``read_export`` is ``auto`` (or always, with ``always``): an export costs one create, one poll
when it is ready and one download per file, so it saves calls from about 4,000 records on and is the only
way past v5's 100,000-record query cap. v5 does not say how many members a list has, so ``auto`` goes by
the size the last full read found (``Container.size``, which the engine fills in): the cheaper of
``ceil(size / 1000)`` pages and an export. Without one (the rule's first read), it finds out with the first
page: a read of one page costs one call, a larger one that probe plus the export (one call over the
cheaper path from 4,000 records, never more than two).

Incremental reads ask ``updatedAtAfterOrEqualTo`` the watermark (and ``updatedAtBeforeOrEqualTo`` the run's
start), ordered by ``updatedAt`` then ``id``. They see added memberships, not deleted ones: v5's query
returns no deleted memberships, so removals are seen only by full reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from campaign_bridge.connectors.pardot.client import PAGE_SIZE, PardotClient
from campaign_bridge.connectors.pardot.people import PROSPECT_FIELDS, record
from campaign_bridge.connectors.pardot.settings import PardotSettings
from campaign_bridge.mapping.model import MemberRecord

#: What an export costs in calls when it is ready at the first poll: create, poll, download one file.
EXPORT_CALLS = 3
#: A membership read asks for the member's email and Salesforce tie through the ``prospect`` relationship.
MEMBERSHIP_FIELDS = ["id", "prospectId", "optedOut", "updatedAt", "prospect.email", "prospect.salesforceId"]


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    """An export CSV row (``prospect.email`` columns) in the shape of a query row."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        base, _, sub = key.partition(".")
        value = None if value == "" else value
        if sub:
            out.setdefault(base, {})[sub] = value
        else:
            out[key] = value
    return out


class Reader:
    def __init__(self, connection: str, client: PardotClient, settings: PardotSettings) -> None:
        self.connection, self.client, self.settings = connection, client, settings

    def _full(
        self,
        obj: str,
        fields: list[str],
        params: dict[str, Any],
        export: tuple[str, str, dict[str, Any]] | None,
        size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record of a full read: by query, or by the export API when ``read_export`` says so (``auto``:
        when ``size``, the expected count, makes it the cheaper; without one, when there is a second page)."""
        mode = self.settings.read_export if export is not None else "never"
        if mode == "auto" and size is not None:
            mode = "always" if -(-size // PAGE_SIZE) > EXPORT_CALLS else "never"
        if mode == "always" and export is not None:
            yield from (_flat(r) for r in self.client.export(export[0], fields, export[1], export[2]))
            return
        first, token = self.client.first_page(obj, fields, params)
        if mode == "auto" and export is not None and token is not None:
            yield from (_flat(r) for r in self.client.export(export[0], fields, export[1], export[2]))
            return
        yield from first
        if token is not None:
            for page in self.client.pages(obj, fields, params, after=token):
                yield from page

    def memberships(
        self, list_id: str, since: datetime | None, until: datetime | None, *, size: int | None = None
    ) -> Iterator[MemberRecord]:
        if since is None:
            export = ("ListMembership", "filter_by_list_id", {"listId": int(list_id)})
            by_id = {"listId": list_id, "orderBy": "id"}
            rows = self._full("list-memberships", MEMBERSHIP_FIELDS, by_id, export, size)
        else:
            params: dict[str, Any] = {
                "listId": list_id,
                "updatedAtAfterOrEqualTo": stamp(since),
                "orderBy": "updatedAt,id",
            }
            if until is not None:
                params["updatedAtBeforeOrEqualTo"] = stamp(until)
            rows = (r for page in self.client.pages("list-memberships", MEMBERSHIP_FIELDS, params) for r in page)
        for row in rows:
            prospect = row.get("prospect") or {}
            person = record(self.connection, {"id": row["prospectId"], **prospect})
            yield MemberRecord(person, None, parse_time(row.get("updatedAt")), False, str(row["id"]))

    def campaign_members(
        self, campaign_id: str, since: datetime | None, until: datetime | None
    ) -> Iterator[MemberRecord]:
        params: dict[str, Any] = {"campaignId": campaign_id, "orderBy": "updatedAt,id"}
        if since is not None:
            params["updatedAtAfterOrEqualTo"] = stamp(since)
            if until is not None:
                params["updatedAtBeforeOrEqualTo"] = stamp(until)
        for page in self.client.pages("prospects", PROSPECT_FIELDS, params):
            for row in page:
                yield MemberRecord(
                    record(self.connection, row), None, parse_time(row.get("updatedAt")), False, str(row["id"])
                )

    def prospects(self, fields: list[str], params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every live prospect with ``fields``: the index of lookups and the base of segments."""
        export: tuple[str, str, dict[str, Any]] | None = (
            ("Prospect", "filter_by_updated_at", {}) if not params else None
        )
        yield from self._full("prospects", fields, dict(params or {}), export)

    def activities(self, types: list[int], since: datetime | None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"type": ",".join(str(t) for t in types)}
        if since is not None:
            params["createdAtAfterOrEqualTo"] = stamp(since)
        for page in self.client.pages(
            "visitor-activities", ["id", "prospectId", "type", "emailId", "createdAt"], params
        ):
            yield from page
