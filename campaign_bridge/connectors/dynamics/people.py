"""People: contacts and leads by email, and the people a segment selects (``segments.py`` gives the filters).

Lookups send 10,000 addresses a call: one ``$batch`` of ``In`` queries of 500 addresses (a GET line near 20 kB,
under Dataverse's 32 kB URL limit), one per person kind; values are quoted, so a quote in an address is data.
A qualified lead names the contact created from it (``reads.people``), so membership follows the survivor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from campaign_bridge.connectors.dynamics.client import DataverseClient, Op, in_filter, path
from campaign_bridge.connectors.dynamics.reads import (
    EMAILS_PER_QUERY,
    LEAD_QUALIFIED,
    PAGE,
    PRIMARY,
    SETS,
    ok,
    people,
    person,
    survivors,
)
from campaign_bridge.mapping.model import MemberRecord, PersonRecord


def lookup(client: DataverseClient, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
    """Contacts and leads by email: one ``$batch`` of ``In`` queries (500 addresses each) per call."""
    ops: list[tuple[str, Op]] = []
    for i in range(0, len(emails), EMAILS_PER_QUERY):
        chunk = list(emails[i : i + EMAILS_PER_QUERY])
        for kind, cols in (
            ("contact", "contactid,emailaddress1,_originatingleadid_value"),
            ("lead", "leadid,emailaddress1,statecode"),
        ):
            ops.append(
                (kind, Op("GET", path(SETS[kind], select=cols, filter=in_filter("emailaddress1", chunk)), headers=PAGE))
            )
    answers = client.batch([op for _, op in ops]) if ops else []
    rows: dict[str, list[dict[str, Any]]] = {"contact": [], "lead": []}
    for (kind, op), answer in zip(ops, answers, strict=True):
        for page in client.pages(op.path, ok(answer, f"{client.connection}: lookup")):
            rows[kind] += page
    converted = {
        str(r["_originatingleadid_value"]): str(r["contactid"])
        for r in rows["contact"]
        if r.get("_originatingleadid_value")
    }
    qualified = [
        str(r["leadid"])
        for r in rows["lead"]
        if r.get("statecode") == LEAD_QUALIFIED and str(r["leadid"]) not in converted
    ]
    if qualified:
        converted.update(survivors(client, qualified))
    wanted = {e.lower() for e in emails}
    found: dict[str, list[PersonRecord]] = {}
    for kind in ("contact", "lead"):
        for row in rows[kind]:
            p = person(client.connection, kind, row, converted)
            if p.email in wanted:
                found.setdefault(p.email, []).append(p)
    return found


def read_segment(
    client: DataverseClient, filters: dict[str, str | bool], since: datetime | None, until: datetime | None
) -> Iterator[MemberRecord]:
    """Contacts and leads matching each table's ``filters`` entry (``segments.table_filter``), modified in
    ``[since, until]`` when given, in (modifiedon, id) order per table; the first pages in one ``$batch``."""
    ops: list[tuple[str, Op]] = []
    for kind, where in filters.items():
        if where is False:
            continue
        parts = [] if where is True else [str(where)]
        if since is not None:
            parts.append(f"modifiedon ge {_stamp(since)}")
        if until is not None:
            parts.append(f"modifiedon le {_stamp(until)}")
        cols = f"{PRIMARY[kind]},emailaddress1,modifiedon" + (",statecode" if kind == "lead" else "")
        params = {"select": cols, "orderby": f"modifiedon asc,{PRIMARY[kind]} asc"}
        if parts:
            params["filter"] = " and ".join(parts)
        ops.append((kind, Op("GET", path(SETS[kind], **params), headers=PAGE)))
    answers = client.batch([op for _, op in ops]) if ops else []
    for (kind, op), answer in zip(ops, answers, strict=True):
        for page in client.pages(op.path, ok(answer, f"{client.connection}: segment")):
            stamps = {str(r[PRIMARY[kind]]): r.get("modifiedon") for r in page}
            for p in people(client, kind, page):
                yield MemberRecord(p, modified_at=_parse(stamps.get(p.ref.id)), tie_id=p.ref.id)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
