"""Prospects as campaign-bridge sees them: records, the email index lookups answer from, and creation.

Identity: prospects are keyed by email, and with AMPSEA several prospects may share one, each tied to one
Salesforce Lead or Contact (``salesforceId``). A prospect's record kind says that tie: ``contact`` or
``lead`` when synced with a Salesforce Contact or Lead, ``prospect`` when not, so that a rule's
``match.prefer`` chooses among duplicates the prospect tied to the kind of record the CRM side prefers.

Lookups: v5 filters prospects by one email per request, so a batch of more than ``INDEX_AFTER`` emails
reads the business unit's prospects once instead (pages of 1,000, or the export API) and answers every
later batch of the run from that index: ``ceil(prospects / 1000)`` calls for the whole run instead of one
per email.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from campaign_bridge.connectors.pardot.client import PardotClient
from campaign_bridge.connectors.pardot.errors import PardotRequestError
from campaign_bridge.mapping.model import CreateOutcome, PersonDraft, PersonRecord, RecordRef, normalise_email

#: Fields of a prospect every read asks for.
PROSPECT_FIELDS = ["id", "email", "salesforceId", "updatedAt"]
#: A lookup of more emails than this reads the whole prospect index instead of one query per email.
INDEX_AFTER = 10


def kind_of(salesforce_id: Any) -> str:
    sf = str(salesforce_id or "")
    return "contact" if sf.startswith("003") else "lead" if sf.startswith("00Q") else "prospect"


def record(connection: str, row: Mapping[str, Any]) -> PersonRecord:
    """A prospect as a ``PersonRecord`` (from a query row, an export row or a relationship object)."""
    return PersonRecord(
        RecordRef(connection, kind_of(row.get("salesforceId")), str(row["id"])), row.get("email") or None
    )


class People:
    """Lookups and creation of prospects for one connection, with the run's email index."""

    def __init__(self, connection: str, client: PardotClient, reader: Any) -> None:
        self.connection, self.client, self.reader = connection, client, reader
        self._index: dict[str, list[PersonRecord]] | None = None
        self._lock = threading.Lock()

    def lookup(self, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        wanted = sorted({e for e in (normalise_email(x) for x in emails) if e})
        if self._index is None and len(wanted) <= INDEX_AFTER:
            return {e: found for e in wanted if (found := self._by_email(e))}
        index = self._load_index()
        return {e: list(index[e]) for e in wanted if e in index}

    def _by_email(self, email: str) -> list[PersonRecord]:
        rows = [r for page in self.client.pages("prospects", PROSPECT_FIELDS, {"email": email}) for r in page]
        return [record(self.connection, r) for r in rows if normalise_email(r.get("email")) == email]

    def _load_index(self) -> dict[str, list[PersonRecord]]:
        with self._lock:
            if self._index is None:
                index: dict[str, list[PersonRecord]] = {}
                for row in self.reader.prospects(PROSPECT_FIELDS):
                    email = normalise_email(row.get("email"))
                    if email:
                        index.setdefault(email, []).append(record(self.connection, row))
                self._index = index
            return self._index

    def create(self, drafts: Sequence[PersonDraft], campaign_id: int | None, workers: int) -> list[CreateOutcome]:
        """One POST per draft (v5 has no batch create), ``workers`` at a time; never retried (a retried
        create makes a duplicate under AMPSEA: the next run's lookup finds a timed-out one instead)."""

        def one(draft: PersonDraft) -> CreateOutcome:
            body: dict[str, Any] = {"email": draft.email}
            for key, value in (
                ("firstName", draft.first_name),
                ("lastName", draft.last_name),
                ("company", draft.company),
            ):
                if value:
                    body[key] = value
            if campaign_id is not None:
                body["campaignId"] = campaign_id
            try:
                reply = self.client.call(
                    "POST",
                    "/api/v5/objects/prospects",
                    params={"fields": ",".join(PROSPECT_FIELDS)},
                    json=body,
                    idempotent=False,
                )
            except PardotRequestError as exc:
                return CreateOutcome(draft, None, exc.code, exc.pardot_message)
            made = record(self.connection, reply.body)
            with self._lock:
                if self._index is not None and made.email:
                    self._index.setdefault(normalise_email(made.email) or "", []).append(made)
            return CreateOutcome(draft, made)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, drafts))
