"""Contacts: batch reads by id or email, and batch upserts for ``create_missing``.

Batch endpoints take at most ``BATCH_SIZE`` inputs. A batch read answers 207 with the misses listed in
``errors``; a miss is simply absent from what these functions return.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from campaign_bridge.connectors.hubspot.client import HubSpotClient, Reply
from campaign_bridge.connectors.hubspot.errors import HubSpotValidationError
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import CreateOutcome, PersonDraft, PersonRecord, RecordRef, normalise_email

#: Inputs per batch read/upsert call (HubSpot's documented maximum, without property history).
BATCH_SIZE = 100
#: The kind of every record this connector returns.
CONTACT = "contact"
#: Refused locally without spending a call: HubSpot would refuse these too.
_NOT_AN_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def person(connection: str, row: dict[str, Any]) -> PersonRecord:
    """A canonical person from a SimplePublicObject."""
    props = row.get("properties") or {}
    return PersonRecord(RecordRef(connection, CONTACT, str(row["id"])), normalise_email(props.get("email")))


def _batch_read(client: HubSpotClient, keys: Sequence[str], id_property: str | None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"inputs": [{"id": k} for k in keys], "properties": ["email"], "propertiesWithHistory": []}
    if id_property:
        body["idProperty"] = id_property
    endpoint = f"contacts.batch_read_by_{id_property or 'id'}"
    reply = client.call(endpoint, lambda o: client.contacts_batch.read(body, archived=False, **o))
    return _results(reply)


def _results(reply: Reply) -> list[dict[str, Any]]:
    results = reply.obj().get("results")
    if not isinstance(results, list):
        raise TransientError(f"HubSpot answered {reply.status} without a list of results")
    return [r for r in results if isinstance(r, dict) and r.get("id") is not None]


def read_by_ids(client: HubSpotClient, connection: str, ids: Sequence[str]) -> dict[str, PersonRecord]:
    """The live contacts among ``ids``, by id."""
    found: dict[str, PersonRecord] = {}
    for chunk in chunks(list(dict.fromkeys(ids)), BATCH_SIZE):
        for row in _batch_read(client, chunk, None):
            record = person(connection, row)
            found[record.ref.id] = record
    return found


def lookup_by_email(client: HubSpotClient, connection: str, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
    """Contacts by normalised email; an email HubSpot does not know is absent."""
    wanted = list(dict.fromkeys(e for e in (normalise_email(x) for x in emails) if e))
    found: dict[str, list[PersonRecord]] = {}
    for chunk in chunks(wanted, BATCH_SIZE):
        for row in _batch_read(client, chunk, "email"):
            record = person(connection, row)
            if record.email is not None:
                found.setdefault(record.email, []).append(record)
    return found


def upsert(client: HubSpotClient, connection: str, drafts: Sequence[PersonDraft]) -> list[CreateOutcome]:
    """Create (or find, by email) one contact per draft; one outcome per draft, in order.

    Upserting by email makes a repeated run idempotent. A draft HubSpot refuses gets an outcome with
    HubSpot's message: the batch is split until the refused drafts stand alone, so one bad email does not
    sink the other 99.
    """
    outcomes: dict[int, CreateOutcome] = {}
    pending: list[int] = []
    for i, draft in enumerate(drafts):
        if not _NOT_AN_EMAIL.match(draft.email.strip()):
            outcomes[i] = CreateOutcome(draft, None, "INVALID_EMAIL", f"{draft.email!r} is not an email address")
        else:
            pending.append(i)
    for chunk in chunks(pending, BATCH_SIZE):
        _upsert_split(client, connection, drafts, list(chunk), outcomes)
    return [outcomes[i] for i in range(len(drafts))]


def _upsert_split(
    client: HubSpotClient,
    connection: str,
    drafts: Sequence[PersonDraft],
    indexes: list[int],
    outcomes: dict[int, CreateOutcome],
) -> None:
    try:
        reply = _upsert_call(client, [drafts[i] for i in indexes])
    except HubSpotValidationError as exc:
        if len(indexes) == 1:
            outcomes[indexes[0]] = CreateOutcome(drafts[indexes[0]], None, "VALIDATION_ERROR", exc.hubspot_message)
            return
        half = len(indexes) // 2
        _upsert_split(client, connection, drafts, indexes[:half], outcomes)
        _upsert_split(client, connection, drafts, indexes[half:], outcomes)
        return
    by_email = {r.email: r for r in (person(connection, row) for row in _results(reply)) if r.email}
    errors = [e for e in reply.obj().get("errors") or [] if isinstance(e, dict)]
    for i in indexes:
        draft = drafts[i]
        email = normalise_email(draft.email) or ""
        record = by_email.get(email)
        if record is not None:
            outcomes[i] = CreateOutcome(draft, record)
            continue
        error = next((e for e in errors if email and email in str(e).lower()), errors[0] if errors else None)
        code = str(error.get("category") or "REJECTED") if error else "NOT_CREATED"
        message = str(error.get("message")) if error else "HubSpot returned no record for this email"
        outcomes[i] = CreateOutcome(draft, None, code, message)


def _upsert_call(client: HubSpotClient, drafts: Sequence[PersonDraft]) -> Reply:
    inputs = []
    for d in drafts:
        props = {"email": d.email.strip(), "firstname": d.first_name, "lastname": d.last_name, "company": d.company}
        # Only non-empty values: an upsert that finds the contact must not blank what it holds.
        inputs.append(
            {"id": d.email.strip(), "idProperty": "email", "properties": {k: v for k, v in props.items() if v}}
        )
    body = {"inputs": inputs}
    return client.call("contacts.batch_upsert", lambda o: client.contacts_batch.upsert(body, **o), first=True)
