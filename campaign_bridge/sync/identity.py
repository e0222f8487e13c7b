"""The identity crosswalk: which person a source record is, and which target record a person is.

Source side: a record is known by (connection, record id) first, then by normalised email; a converted
lead or merged record is followed to its survivor. Target side: the crosswalk first (no API call for
people seen before), then one batched lookup, then ``create_missing``. Every ambiguity is a decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from campaign_bridge.config.models import Match
from campaign_bridge.connectors.base import Connector, SupportsCreatePeople
from campaign_bridge.mapping.model import MemberRecord, PersonDraft, PersonRecord, RecordRef, normalise_email
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sync.plan import Decision, Kind
from campaign_bridge.sync.store.states import RefState
from campaign_bridge.sync.store.store import RefRow, Store


@dataclass(frozen=True, slots=True)
class Resolved:
    record: MemberRecord
    person_key: str
    email: str | None


def ref_row(
    connection: str, ref: RecordRef, key: str, email: str | None, state: RefState, survivor: str | None, now: datetime
) -> RefRow:
    """A crosswalk row (``person_refs``): record ``ref`` of ``connection`` is person ``key``."""
    return RefRow(connection, ref.id, ref.kind, key, email, state, survivor, now)


class SourceResolver:
    """Map source member records to person keys; ``persist`` False (a plan) writes nothing."""

    def __init__(self, store: Store, connection: str, now: datetime, *, persist: bool) -> None:
        self.store, self.connection, self.now, self.persist = store, connection, now, persist
        # A plan writes no persons, so it remembers the ones it made up: a later chunk of the same read
        # with the same email is the same person.
        self._planned: dict[str, str] = {}

    def resolve(self, records: Sequence[MemberRecord]) -> tuple[list[Resolved], list[Decision]]:
        """Resolve one chunk of a read (or all of it); ``persist`` writes new persons and crosswalk rows."""
        decisions: list[Decision] = []
        ids = {r.person.ref.id for r in records} | {r.person.survivor.id for r in records}
        known = self.store.refs_by_ids(self.connection, ids)
        emails = {normalise_email(r.person.email) for r in records} - {None}
        by_email = self.store.persons_by_emails(e for e in emails if e is not None)
        fresh: dict[str | None, str] = {}
        new_emails: list[str | None] = []
        out: list[Resolved] = []
        # (record, person key, email, state, survivor id) by record: the rows are made once the new
        # persons have their keys
        ref_rows: dict[str, tuple[RecordRef, str, str | None, RefState, str | None]] = {}
        for rec in records:
            person, survivor = rec.person, rec.person.survivor
            email = normalise_email(person.email)
            hit = known.get(survivor.id) or known.get(person.ref.id)
            key = hit.person_key if hit else (by_email.get(email) or self._planned.get(email) if email else None)
            if key is None:
                if email is not None and email in fresh:
                    key = fresh[email]
                else:
                    key = f"new:{len(new_emails)}"
                    new_emails.append(email)
                    if email is not None:
                        fresh[email] = key
            out.append(Resolved(rec, key, email))
            ref_rows[survivor.id] = (survivor, key, email, RefState.ACTIVE, None)
            if survivor != person.ref:
                state = RefState.CONVERTED if person.converted_to else RefState.MERGED
                previous = known.get(person.ref.id)
                if previous is None or previous.state != state:
                    kind = Kind.LEAD_CONVERTED if person.converted_to else Kind.RECORD_MERGED
                    decisions.append(
                        Decision(kind, key, email, f"{person.ref} is now {survivor}; membership follows {survivor}")
                    )
                ref_rows[person.ref.id] = (person.ref, key, email, state, survivor.id)
            if person.deleted:
                decisions.append(Decision(Kind.RECORD_DELETED, key, email, f"{person.ref} was deleted in the source"))
        if self.persist:
            real = self.store.add_persons(new_emails, self.now)
        else:
            first = len(self._planned)
            real = [f"plan-{first + i}" for i in range(len(new_emails))]
            self._planned.update((e, k) for e, k in zip(new_emails, real, strict=True) if e is not None)
        mapping = {f"new:{i}": k for i, k in enumerate(real)}
        out = [Resolved(r.record, mapping.get(r.person_key, r.person_key), r.email) for r in out]
        decisions = [
            Decision(d.kind, mapping.get(d.person_key or "", d.person_key), d.email, d.detail) for d in decisions
        ]
        if self.persist:
            rows = [
                self._ref_row(ref, mapping.get(key, key), email, state, survivor)
                for ref, key, email, state, survivor in ref_rows.values()
            ]
            self.store.upsert_refs(rows)
        return out, decisions

    def _ref_row(self, ref: RecordRef, key: str, email: str | None, state: RefState, survivor: str | None) -> RefRow:
        return ref_row(self.connection, ref, key, email, state, survivor, self.now)


@dataclass(slots=True)
class PendingLookup:
    """A target lookup between ``TargetResolver.start`` and ``finish``: what the crosswalk found, and the
    emails (with their persons) still to look up in the target."""

    found: dict[str, RecordRef] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    unresolved: dict[str, str] = field(default_factory=dict)
    by_email: dict[str, list[str]] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)


class TargetResolver:
    """Find (or create) each person's record in the target system: the crosswalk first, then batched
    lookups, then ``create`` for those the target has no record of (when the plan is applied).

    The lookup runs in three steps, which the pipeline runs apart: ``start`` (the crosswalk), ``fetch``
    (the target's API only, no state store: it may run in another thread) and ``finish``."""

    def __init__(self, store: Store, connector: Connector, match: Match, now: datetime, *, persist: bool) -> None:
        self.store, self.connector, self.match, self.now, self.persist = store, connector, match, now, persist
        create = match.create_missing
        if create is None:
            create = "contact" if connector.role is Role.MA else "skip"
        self.create_missing = create

    def start(self, wanted: dict[str, str | None]) -> PendingLookup:
        """The crosswalk's answer for ``wanted``, and the emails left to look up in the target."""
        conn = self.connector.name
        pending = PendingLookup()
        for key, rows in self.store.refs_of_persons(conn, wanted).items():
            active = [r for r in rows if r.state is RefState.ACTIVE]
            if active:
                chosen = self._prefer([RecordRef(conn, r.kind, r.record_id) for r in active])
                # A lead may have been converted since the crosswalk saw it, and a converted lead takes no
                # membership: ask the target again (``finish`` follows the conversion to its contact).
                if chosen.kind.lower() != "lead" or wanted.get(key) is None:
                    pending.found[key] = chosen
        for key, email in wanted.items():
            if key in pending.found:
                continue
            if email is None:
                pending.unresolved[key] = "the person has no email address to match on"
                pending.decisions.append(Decision(Kind.UNMATCHED_PERSON, key, None, pending.unresolved[key]))
            else:
                pending.by_email.setdefault(email, []).append(key)
        pending.emails = sorted(pending.by_email)
        return pending

    def fetch(self, emails: list[str]) -> dict[str, list[PersonRecord]]:
        """The target's records for ``emails``, in lookup batches. Calls the connector only."""
        step = self.connector.lookup_batch_size
        records: dict[str, list[PersonRecord]] = {}
        for i in range(0, len(emails), step):
            records.update(self.connector.lookup_people(emails[i : i + step]))
        return records

    def finish(
        self, pending: PendingLookup, records: dict[str, list[PersonRecord]]
    ) -> tuple[dict[str, RecordRef], list[Decision], dict[str, str], list[tuple[str, str]]]:
        """Choose each person's record among what ``fetch`` found, and remember it in the crosswalk."""
        found, decisions = pending.found, pending.decisions
        new_refs: list[RefRow] = []
        to_create: list[tuple[str, str]] = []
        for email in pending.emails:
            candidates = _survivors(records.get(email, []))
            for key in pending.by_email[email]:
                if not candidates:
                    to_create.append((key, email))
                    continue
                chosen = self._prefer(candidates)
                if len(candidates) > 1:
                    others = ", ".join(str(c) for c in candidates if c != chosen)
                    decisions.append(
                        Decision(
                            Kind.AMBIGUOUS_IDENTITY,
                            key,
                            email,
                            f"{len(candidates)} records share this email; chose {chosen} (prefer {self.match.prefer}) over {others}",
                        )
                    )
                found[key] = chosen
                new_refs.extend(self._ref_row(c, key, email) for c in candidates)
                new_refs.extend(
                    ref_row(self.connector.name, r.ref, key, email, RefState.CONVERTED, r.survivor.id, self.now)
                    for r in records.get(email, [])
                    if r.converted_to is not None and not r.deleted
                )
        if self.persist and new_refs:
            self.store.upsert_refs(new_refs)
        return found, decisions, pending.unresolved, to_create

    def create(self, asked: list[tuple[str, str]]) -> tuple[dict[str, RecordRef], list[Decision], dict[str, str]]:
        """Create the target records ``finish`` found missing, as the rule's ``create_missing`` says."""
        if not asked:
            return {}, [], {}
        created, decisions, why = self._create(asked)
        if self.persist and created:
            emails = dict(asked)
            self.store.upsert_refs([self._ref_row(ref, key, emails[key]) for key, ref in created.items()])
        return created, decisions, why

    def _create(self, asked: list[tuple[str, str]]) -> tuple[dict[str, RecordRef], list[Decision], dict[str, str]]:
        decisions: list[Decision] = []
        why: dict[str, str] = {}
        created: dict[str, RecordRef] = {}
        if self.create_missing == "skip" or not isinstance(self.connector, SupportsCreatePeople):
            reason = (
                "no record with this email in the target, and the rule says create_missing: skip"
                if self.create_missing == "skip"
                else f"no record with this email, and {self.connector.system} cannot create people"
            )
            for key, email in asked:
                why[key] = reason
                decisions.append(Decision(Kind.UNMATCHED_PERSON, key, email, reason))
            return created, decisions, why
        kind = {"lead": "Lead", "contact": "Contact" if self.connector.role is Role.CRM else "contact"}[
            self.create_missing
        ]
        if not self.persist:
            for key, email in asked:
                why[key] = f"would create a {kind} for {email}"
            return created, decisions, why
        # Two persons can share an email (one first seen without any): one record is created for the email,
        # and it is each of theirs, as a record the target already had would be. A draft per person would
        # put the same address in the target twice.
        keys_of: dict[str, list[str]] = {}
        for key, email in asked:
            keys_of.setdefault(email, []).append(key)
        emails = list(keys_of)
        step = self.connector.lookup_batch_size
        for i in range(0, len(emails), step):
            chunk = emails[i : i + step]
            outcomes = self.connector.create_people([PersonDraft(email, kind) for email in chunk])
            for email, outcome in zip(chunk, outcomes, strict=True):
                for key in keys_of[email]:
                    if outcome.record is not None:
                        created[key] = outcome.record.ref
                        decisions.append(Decision(Kind.CREATED_PERSON, key, email, f"created {outcome.record.ref}"))
                    else:
                        why[key] = f"the target refused to create this person: {outcome.code}: {outcome.message}"
                        decisions.append(Decision(Kind.REJECTED_RECORD, key, email, why[key]))
        return created, decisions, why

    def _prefer(self, refs: list[RecordRef]) -> RecordRef:
        preferred = self.match.prefer.lower()
        return sorted(refs, key=lambda r: (r.kind.lower() != preferred, r.id))[0]

    def _ref_row(self, ref: RecordRef, key: str, email: str) -> RefRow:
        return ref_row(self.connector.name, ref, key, email, RefState.ACTIVE, None, self.now)


def _survivors(records: list[PersonRecord]) -> list[RecordRef]:
    """Distinct surviving records: a converted lead counts as its contact."""
    seen: dict[str, RecordRef] = {}
    for r in records:
        if r.deleted:
            continue
        s = r.survivor
        seen.setdefault(s.id, s)
    return list(seen.values())
