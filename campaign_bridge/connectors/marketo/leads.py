"""Leads: looked up by email (every duplicate returned) and created for ``create_missing``.

Marketo keys people by lead id and allows several leads with one email, so a lookup returns all of them
and the engine's ``prefer`` and ambiguity rules decide; nothing here picks one. Lookups use Get Leads by
Filter (``filterType=email``, at most 300 values) sent as ``POST`` with ``_method=GET`` so that 300 long
addresses never overflow Marketo's 8 KB URI. Creation uses Sync Leads with ``action: createOnly``: an
address that already has a lead (or several) is answered per record (1005) instead of overwriting
marketing's data or picking a duplicate blindly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from campaign_bridge.connectors.marketo.client import MarketoClient
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import CreateOutcome, PersonDraft, PersonRecord, RecordRef, normalise_email

LEAD = "lead"
#: Values per Get Leads by Filter call and records per Sync Leads call (Marketo's maxima).
BATCH_SIZE = 300
#: Lead fields every read asks for.
FIELDS = "id,email"


def person(connection: str, row: dict[str, Any]) -> PersonRecord:
    return PersonRecord(RecordRef(connection, LEAD, str(row["id"])), normalise_email(row.get("email")))


def by_filter(
    client: MarketoClient, kind: str, values: Sequence[str], fields: str = FIELDS
) -> Iterator[dict[str, Any]]:
    """Every lead whose ``kind`` field is one of ``values`` (≤300), all pages. A batch matching more than
    Marketo's 1,000 is split in two and asked again."""
    form: dict[str, Any] = {"_method": "GET", "filterType": kind, "filterValues": ",".join(values), "fields": fields}
    token: str | None = None
    while True:
        if token:
            form["nextPageToken"] = token
        try:
            body = client.call("POST", "/rest/v1/leads.json", data=form)
        except FatalError as exc:
            if "Too many results" in str(exc) and len(values) > 1:
                half = len(values) // 2
                yield from by_filter(client, kind, values[:half], fields)
                yield from by_filter(client, kind, values[half:], fields)
                return
            raise
        yield from body.get("result") or []
        token = body.get("nextPageToken")
        if not token:
            return


def lookup_by_email(client: MarketoClient, connection: str, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
    """Leads by email, every duplicate included. An address Marketo cannot take as a filter value (one with a
    comma, which separates values) has no match."""
    wanted = [e for e in dict.fromkeys(emails) if "," not in e]
    found: dict[str, list[PersonRecord]] = {}
    for i in range(0, len(wanted), BATCH_SIZE):
        for row in by_filter(client, "email", wanted[i : i + BATCH_SIZE]):
            rec = person(connection, row)
            if rec.email is not None:
                found.setdefault(rec.email, []).append(rec)
    return found


def by_ids(
    client: MarketoClient, connection: str, ids: Sequence[str], fields: str = FIELDS
) -> dict[str, dict[str, Any]]:
    """Lead rows by id (300 per call); ids Marketo no longer has are absent."""
    out: dict[str, dict[str, Any]] = {}
    numeric = [i for i in dict.fromkeys(ids) if i.isdigit()]
    for i in range(0, len(numeric), BATCH_SIZE):
        for row in by_filter(client, "id", numeric[i : i + BATCH_SIZE], fields):
            out[str(row["id"])] = row
    return out


def create(client: MarketoClient, connection: str, drafts: Sequence[PersonDraft]) -> list[CreateOutcome]:
    """Create leads (``createOnly``, keyed by email, 300 per call); one outcome per draft, in order."""
    outcomes: list[CreateOutcome] = []
    for i in range(0, len(drafts), BATCH_SIZE):
        batch = drafts[i : i + BATCH_SIZE]
        rows = [_fields(d) for d in batch]
        body = client.call(
            "POST",
            "/rest/v1/leads.json",
            json={"action": "createOnly", "lookupField": "email", "input": rows},
            first=True,
            idempotent=False,
        )
        results = body.get("result") or []
        if len(results) != len(batch):
            raise FatalError(f"{connection}: Marketo answered {len(results)} results for {len(batch)} leads")
        for draft, result in zip(batch, results, strict=True):
            if result.get("status") in ("created", "updated") and result.get("id") is not None:
                ref = RecordRef(connection, LEAD, str(result["id"]))
                outcomes.append(CreateOutcome(draft, PersonRecord(ref, normalise_email(draft.email))))
            else:
                reason = (result.get("reasons") or [{}])[0]
                outcomes.append(CreateOutcome(draft, None, str(reason.get("code")), str(reason.get("message"))))
    return outcomes


def _fields(draft: PersonDraft) -> dict[str, Any]:
    row: dict[str, Any] = {"email": draft.email}
    if draft.first_name:
        row["firstName"] = draft.first_name
    if draft.last_name:
        row["lastName"] = draft.last_name
    if draft.company:
        row["company"] = draft.company
    return row
