"""The comparison: a full read of a rule's source and target against what the rule wants and its ledger.

Pure bookkeeping on values already read (plus batched look-ups of records the target no longer lists):
it finds the drift of ``report.FindingKind`` and attaches to each finding the ``Fix`` that ``--repair``
would apply. It writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from campaign_bridge.config.models import ManualRemoval, Mode, Rule
from campaign_bridge.connectors.base import Connector
from campaign_bridge.mapping.model import (
    ChangeAction,
    Container,
    MemberRecord,
    PersonRecord,
    RecordRef,
    normalise_email,
)
from campaign_bridge.reconciler.report import Action, Finding, FindingKind, Fix
from campaign_bridge.sync.identity import Resolved, ref_row
from campaign_bridge.sync.plan import Item
from campaign_bridge.sync.store.states import LedgerState, RefState
from campaign_bridge.sync.store.store import LedgerRow, RefRow, Store

#: ``last_error`` of a ledger row whose manual removal the rule respected (``on_manual_removal: respect``).
#: The engine treats such a row as terminal (state ``blocked``); reconcile restores it if the policy changes.
RESPECTED = "removed by hand from the target; on_manual_removal: respect keeps it out"


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a rule as the comparison needs it."""

    connector: Connector
    name: str  # the container's name, or ``segment``
    container: Container | None = None  # the target's container
    status: str | None = None  # the member status the rule sets (targets with statuses)

    @property
    def where(self) -> str:
        return f"{self.connector.name}:{self.name}"


def desired_people(rule: Rule, resolved: list[Resolved]) -> dict[str, str | None]:
    """{person key: email} of the people the rule wants in its target (the engine's test, on a full read)."""
    wanted_statuses = {s.casefold() for s in rule.source.member_status or rule.target.status_map or ()}
    out: dict[str, str | None] = {}
    for r in resolved:
        if r.record.removed or r.record.person.deleted:
            continue
        if wanted_statuses and (r.record.status or "").casefold() not in wanted_statuses:
            continue
        out[r.person_key] = r.email
    return out


def _state_of(person: PersonRecord) -> RefState | None:
    if person.deleted:
        return RefState.DELETED
    if person.converted_to is not None:
        return RefState.CONVERTED
    if person.merged_into is not None:
        return RefState.MERGED
    return None


def _ref_row(
    ref: RecordRef, key: str, email: str | None, state: RefState, survivor: str | None, now: datetime
) -> RefRow:
    return ref_row(ref.connection, ref, key, email, state, survivor, now)


def _stale_detail(person: PersonRecord, state: RefState, where: str) -> str:
    if state is RefState.DELETED:
        return f"{person.ref} was deleted in {where}"
    return f"{person.ref} was {state} into {person.survivor} in {where}; membership follows {person.survivor}"


def source_findings(store: Store, resolved: list[Resolved], source: Side, now: datetime) -> list[Finding]:
    """Source records the crosswalk still knows as live that the source now reports deleted, merged or converted."""
    known = store.refs_by_ids(source.connector.name, {r.record.person.ref.id for r in resolved})
    findings: list[Finding] = []
    seen: set[str] = set()
    for r in resolved:
        person = r.record.person
        state = _state_of(person)
        ref = known.get(person.ref.id)
        if state is None or ref is None or ref.state == state or person.ref.id in seen:
            continue
        seen.add(person.ref.id)
        refs = [
            _ref_row(
                person.ref,
                ref.person_key,
                r.email,
                state,
                None if state is RefState.DELETED else person.survivor.id,
                now,
            )
        ]
        if state is not RefState.DELETED:
            refs.append(_ref_row(person.survivor, ref.person_key, r.email, RefState.ACTIVE, None, now))
        findings.append(
            Finding(
                FindingKind.STALE_IDENTITY,
                ref.person_key,
                r.email,
                str(person.ref),
                f"source: {_stale_detail(person, state, source.where)}",
                fix=Fix(Action.FORGOTTEN if state is RefState.DELETED else Action.REPOINTED, refs=refs),
                stale=state,
            )
        )
    return findings


class TargetComparison:
    """Compare a rule's target (a full read) with its ledger and its desired people."""

    def __init__(
        self,
        rule: Rule,
        mode: Mode,
        target: Side,
        store: Store,
        desired: Mapping[str, str | None],
        ledger: Mapping[str, LedgerRow],
        members: list[MemberRecord],
        now: datetime,
    ) -> None:
        assert target.container is not None
        self.rule, self.mode, self.target, self.store, self.now = rule, mode, target, store, now
        self.container: Container = target.container
        self.desired, self.ledger, self.members = desired, ledger, members
        self.rank = {s.label: s.rank for s in self.container.statuses}
        self.findings: list[Finding] = []
        self.counts: dict[str, int] = {}
        # A target member is found by its own record id, and a converted or merged one also by its survivor's.
        self.by_id: dict[str, MemberRecord] = {}
        for m in members:
            self.by_id.setdefault(m.person.ref.id, m)
            self.by_id.setdefault(m.person.survivor.id, m)
        self.matched: set[int] = set()  # id() of target members the ledger accounts for
        self.emails = dict(desired)
        missing_emails = [k for k in ledger if k not in self.emails]
        if missing_emails:
            self.emails.update(store.persons(missing_emails))

    def bump(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def run(self) -> tuple[list[Finding], dict[str, int]]:
        gone: list[LedgerRow] = []
        for key in sorted(self.ledger):
            row = self.ledger[key]
            if row.connection != self.target.connector.name or row.container_id != self.container.id:
                self._orphan(
                    row, f"kept for {row.connection}:{row.container_id}, but the rule now writes to {self.target.where}"
                )
                continue
            member = self.by_id.get(row.target_record_id or "")
            if row.state in (LedgerState.PENDING, LedgerState.REMOVING):
                # A change whose outcome a stopped run never recorded: the next sync sends it again and settles it.
                if member is not None:
                    self.matched.add(id(member))
                self.bump("ledger_pending")
                continue
            if row.state != LedgerState.PRESENT:
                self._not_present(row, member)
                continue
            if member is None:
                gone.append(row)
                continue
            self.matched.add(id(member))
            self._present(row, member)
        self._gone(gone)
        self._unowned()
        self.bump("pending", sum(1 for k in self.desired if k not in self.ledger))
        return self.findings, self.counts

    # -- ledger rows -----------------------------------------------------------------------------
    def _present(self, row: LedgerRow, member: MemberRecord) -> None:
        person = member.person
        state = _state_of(person)
        if state is not None and person.ref.id == row.target_record_id:
            self._stale(row, person, state)
            if state is RefState.DELETED:
                return
        key = row.person_key
        if key not in self.desired:
            self.bump("leaving" if self.mode is Mode.MIRROR and row.owned else "kept")
            return
        want = self.target.status
        if want is not None and self.container.has_status and member.status != row.status:
            self._status(row, member, want)
            return
        self.bump("in_sync" if row.owned else "adopted")

    def _not_present(self, row: LedgerRow, member: MemberRecord | None) -> None:
        key = row.person_key
        if member is not None:
            self.bump(f"ledger_{row.state}")
            return  # in the target though the ledger says otherwise: reported as unowned below
        respected = row.state == LedgerState.BLOCKED and row.last_error == RESPECTED
        if respected and key in self.desired and self.rule.on_manual_removal is ManualRemoval.RESTORE:
            self._missing(row, self._ref(row), "removed by hand earlier and kept out; the rule now says restore")
        elif key not in self.desired:
            self._orphan(row, f"a {row.state} ledger row for a person neither in the source nor in the target")
        else:
            self.bump(f"ledger_{row.state}")

    def _gone(self, rows: list[LedgerRow]) -> None:
        """Present ledger rows whose record the target does not list: removed by hand, or the record is stale."""
        if not rows:
            return
        conn = self.target.connector
        emails = sorted({e for r in rows if (e := normalise_email(self.emails.get(r.person_key)))})
        found: dict[str, list[PersonRecord]] = {}
        for i in range(0, len(emails), conn.lookup_batch_size):
            found.update(conn.lookup_people(emails[i : i + conn.lookup_batch_size]))
        for row in rows:
            email = normalise_email(self.emails.get(row.person_key))
            ref = self._ref(row)
            if email is not None:
                record = next((p for p in found.get(email, []) if p.ref.id == row.target_record_id), None)
                if record is None:
                    record = PersonRecord(ref, email, deleted=True)
                state = _state_of(record)
                if state is not None:
                    self._stale(row, record, state)
                    if state is RefState.DELETED:
                        continue
                    ref = record.survivor
                    member = self.by_id.get(ref.id)
                    if member is not None:
                        self.matched.add(id(member))
                        self._present(row._replace(target_record_id=ref.id, target_kind=ref.kind), member)
                        continue
            if row.person_key in self.desired:
                how = "added by this rule" if row.owned else "there before this rule wanted them"
                self._missing(row, ref, f"removed from {self.target.where} by hand ({how})")
            else:
                self._orphan(row, f"neither in the source nor in {self.target.where} any more")

    # -- findings ----------------------------------------------------------------------------------
    def _ref(self, row: LedgerRow) -> RecordRef:
        return RecordRef(row.connection, row.target_kind or "", row.target_record_id or "")

    def _ledger_row(self, row: LedgerRow, **changes: Any) -> LedgerRow:
        return row._replace(written_at=self.now, **changes)

    def _missing(self, row: LedgerRow, ref: RecordRef, why: str) -> None:
        key, email = row.person_key, self.emails.get(row.person_key)
        policy = self.rule.on_manual_removal
        if policy is ManualRemoval.RESTORE:
            item = Item(ChangeAction.ADD, key, email, self.target.status, ref, owned=row.owned)
            fix = Fix(Action.RESTORED, write=item)
        else:
            blocked = self._ledger_row(
                row,
                target_record_id=ref.id,
                target_kind=ref.kind,
                status=None,
                state=LedgerState.BLOCKED,
                last_error=RESPECTED,
            )
            fix = Fix(Action.RESPECTED, ledger=blocked)
        detail = f"{why}; on_manual_removal: {policy.value}"
        self.findings.append(Finding(FindingKind.MISSING, key, email, str(ref), detail, fix=fix))

    def _orphan(self, row: LedgerRow, why: str) -> None:
        key = row.person_key
        fix = Fix(Action.FORGOTTEN, forget=(row.rule, key))
        record = str(self._ref(row)) if row.target_record_id else None
        self.findings.append(Finding(FindingKind.ORPHAN_LEDGER_ROW, key, self.emails.get(key), record, why, fix=fix))

    def _stale(self, row: LedgerRow, person: PersonRecord, state: RefState) -> None:
        key, email = row.person_key, self.emails.get(row.person_key)
        detail = f"target: {_stale_detail(person, state, self.target.where)}"
        if state is RefState.DELETED:
            refs = [_ref_row(person.ref, key, email, RefState.DELETED, None, self.now)]
            fix = Fix(Action.FORGOTTEN, forget=(row.rule, key), refs=refs)
            if key in self.desired:
                detail += "; the next sync adds the person again as a new record (match.create_missing decides)"
        else:
            survivor = person.survivor
            refs = [
                _ref_row(person.ref, key, email, state, survivor.id, self.now),
                _ref_row(survivor, key, email, RefState.ACTIVE, None, self.now),
            ]
            moved = self._ledger_row(row, target_record_id=survivor.id, target_kind=survivor.kind)
            fix = Fix(Action.REPOINTED, ledger=moved, refs=refs)
        self.findings.append(
            Finding(FindingKind.STALE_IDENTITY, key, email, str(person.ref), detail, fix=fix, stale=state)
        )

    def _status(self, row: LedgerRow, member: MemberRecord, want: str) -> None:
        key, email = row.person_key, self.emails.get(row.person_key)
        now_status = member.status
        ref = member.person.survivor
        detail = f"status {now_status!r} in the target, {row.status!r} in the ledger; the rule sets {want!r}"
        if self.rank.get(now_status or "", 0) < self.rank.get(want, 0):
            item = Item(ChangeAction.SET_STATUS, key, email, want, ref, owned=row.owned)
            fix = Fix(Action.STATUS_RAISED, write=item)
        else:
            detail += " (kept: a member status never moves backwards)"
            fix = Fix(Action.STATUS_ADOPTED, ledger=self._ledger_row(row, status=now_status))
        self.findings.append(Finding(FindingKind.STATUS_MISMATCH, key, email, str(ref), detail, fix=fix))

    def _unowned(self) -> None:
        rest = [m for m in self.members if id(m) not in self.matched]
        if not rest:
            return
        conn = self.target.connector.name
        refs: dict[str, RefRow] = self.store.refs_by_ids(conn, {m.person.ref.id for m in rest})
        keys = {r.person_key for r in refs.values()}
        others = {r.person_key for r in self.store.others_on_target(self.rule.name, conn, keys, self.container.id)}
        for m in rest:
            ref = refs.get(m.person.ref.id)
            if m.person.deleted and ref is not None and ref.state == RefState.DELETED:
                self.bump("deleted_known")
                continue
            key = ref.person_key if ref else None
            if key is not None and key in others:
                self.bump("other_rules")
                continue
            row = self.ledger.get(key) if key else None
            detail = f"in {self.target.where} but not added by this rule: never touched"
            if row is not None:
                detail += f" (its ledger row says {row.state})"
            email = normalise_email(m.person.email) or (self.emails.get(key) if key else None)
            self.findings.append(
                Finding(FindingKind.UNOWNED, key, email, str(m.person.ref), detail, fix=Fix(Action.NONE))
            )
