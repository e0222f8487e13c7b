"""Contact lists (``/crm/v3/lists``): every list with its capabilities, memberships, and writes.

A list's ``processingType`` decides what it is to us: ``MANUAL`` and ``SNAPSHOT`` lists hold the
members someone put there (writable static lists), ``DYNAMIC`` lists are computed by HubSpot from their
filters (read-only: usable as a rule's source, never as its target).

HubSpot has no membership change feed, but each list found by the lists search carries its size and the
times a record was last added to and removed from it (``additionalProperties``). ``container`` folds the
three into ``Container.membership_version``, so a caller can tell an unchanged list without reading it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from campaign_bridge.connectors.hubspot.client import HubSpotClient
from campaign_bridge.connectors.hubspot.timestamps import parse_time
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import Container, ContainerKind
from campaign_bridge.mapping.semantics import target_refusal

#: HubSpot's object type id for contacts; lists of companies or deals are not ours.
CONTACTS_OBJECT_TYPE = "0-1"
#: Lists per search page (HubSpot's maximum ``count``).
LIST_PAGE = 500
#: Memberships per page (HubSpot's maximum ``limit``).
MEMBERS_PAGE = 250
#: Record ids per memberships add/remove call. HubSpot documents no maximum for the v3 endpoints [U];
#: 10,000 keeps a request body near 100 kB and is well inside what the endpoint accepts.
MEMBERSHIP_BATCH = 10_000
#: The list properties whose values make up ``membership_version``, in its order. HubSpot returns them
#: on every lists search unasked; we ask anyway, so the version does not rest on that default.
VERSION_PROPERTIES = ("hs_list_size", "hs_last_record_added_at", "hs_last_record_removed_at")


@dataclass(frozen=True, slots=True)
class MembershipUpdate:
    """What one memberships write did, by record id."""

    added: frozenset[str]
    removed: frozenset[str]
    missing: frozenset[str]


def container(connection: str, row: dict[str, Any]) -> Container | None:
    """The canonical container for one list of the search answer; ``None`` for non-contact lists."""
    if str(row.get("objectTypeId") or CONTACTS_OBJECT_TYPE) != CONTACTS_OBJECT_TYPE or row.get("listId") is None:
        return None
    dynamic = str(row.get("processingType") or "").upper() == "DYNAMIC"
    kind = ContainerKind.DYNAMIC_LIST if dynamic else ContainerKind.STATIC_LIST
    extra = row.get("additionalProperties")
    props = extra if isinstance(extra, dict) else {}
    size = str(props.get("hs_list_size") or "")
    return Container(
        connection=connection,
        id=str(row["listId"]),
        name=str(row.get("name") or ""),
        kind=kind,
        writable=target_refusal("hubspot", kind) is None,
        size=int(size) if size.isdigit() else None,
        membership_version=membership_version(props),
    )


def membership_version(props: dict[str, Any]) -> str | None:
    """``"<hs_list_size>/<hs_last_record_added_at>/<hs_last_record_removed_at>"`` (each part empty when
    HubSpot leaves that property out, e.g. ``"59/1695938616824/"`` for a list nobody left yet), or ``None``
    when all three are missing. It moves on every add and every removal HubSpot records, including an add
    and a removal that leave the size as it was."""
    parts = [str(props.get(name) or "") for name in VERSION_PROPERTIES]
    return "/".join(parts) if any(parts) else None


def all_lists(client: HubSpotClient) -> Iterator[dict[str, Any]]:
    """Every list of the portal, paging the lists search by offset."""
    return search_lists(client)


def search_lists(client: HubSpotClient, *, query: str = "", list_ids: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """The lists whose name contains ``query`` (all when empty) and, when given, whose id is in ``list_ids``,
    paging the lists search by offset."""
    offset = 0
    while True:
        data = _search_page(client, offset, query, list_ids)
        lists = data.get("lists")
        if not isinstance(lists, list):
            raise TransientError(f"{client.connection}: the lists search answered without 'lists'")
        yield from (row for row in lists if isinstance(row, dict))
        if not data.get("hasMore") or not lists:
            return
        next_offset = data.get("offset")
        offset = int(next_offset) if isinstance(next_offset, int) and next_offset > offset else offset + len(lists)


def _search_page(client: HubSpotClient, offset: int, query: str, list_ids: Sequence[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "query": query,
        "offset": offset,
        "count": LIST_PAGE,
        "additionalProperties": list(VERSION_PROPERTIES),
    }
    if list_ids:
        body["listIds"] = list(list_ids)
    return client.call("lists.search", lambda o: client.lists.do_search(body, **o)).obj()


def member_pages(client: HubSpotClient, list_id: str) -> Iterator[list[tuple[str, datetime | None]]]:
    """The list's memberships, a page at a time: ``(record id, membership timestamp)``."""
    after: str | None = None
    while True:
        data = _members_page(client, list_id, after)
        results = data.get("results")
        if not isinstance(results, list):
            raise TransientError(f"{client.connection}: list {list_id} memberships answered without 'results'")
        yield [
            (str(r["recordId"]), parse_time(r.get("membershipTimestamp")))
            for r in results
            if isinstance(r, dict) and r.get("recordId") is not None
        ]
        following = ((data.get("paging") or {}).get("next") or {}).get("after")
        if not following or not results:
            return
        after = str(following)


def _members_page(client: HubSpotClient, list_id: str, after: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"limit": MEMBERS_PAGE}
    if after is not None:
        kwargs["after"] = after
    return client.call("lists.memberships", lambda o: client.memberships.get_page(list_id, **kwargs, **o)).obj()


def update_memberships(
    client: HubSpotClient, list_id: str, add: Sequence[str], remove: Sequence[str]
) -> MembershipUpdate:
    """Add and remove record ids in one call (``add``, ``remove`` or ``add-and-remove``). A write goes
    ``first`` through the pacer: the run waits for it, while lookups are made ahead of need."""
    if add and remove:
        body = {"recordIdsToAdd": list(add), "recordIdsToRemove": list(remove)}
        reply = client.call(
            "lists.memberships.add_and_remove",
            lambda o: client.memberships.add_and_remove(list_id, body, **o),
            first=True,
        )
    elif add:
        reply = client.call(
            "lists.memberships.add", lambda o: client.memberships.add(list_id, list(add), **o), first=True
        )
    else:
        reply = client.call(
            "lists.memberships.remove", lambda o: client.memberships.remove(list_id, list(remove), **o), first=True
        )
    data = reply.obj()
    # HubSpot spells the added ids ``recordsIdsAdded`` (sic); its newer docs also show ``recordIdsAdded``.
    added = data.get("recordsIdsAdded", data.get("recordIdsAdded"))
    return MembershipUpdate(_ids(added), _ids(data.get("recordIdsRemoved")), _ids(data.get("recordIdsMissing")))


def _ids(raw: Any) -> frozenset[str]:
    return frozenset(str(x) for x in raw) if isinstance(raw, list) else frozenset()
