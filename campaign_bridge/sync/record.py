"""Recording outcomes: each item's outcome in the ledger and its decision in the report (DESIGN §5,
step 6), and the follow-ups an outcome calls for (a member already there with a lower status is raised;
``latest_wins`` moves a member out of an occupied exclusive slot)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime

from campaign_bridge.config.models import ExclusivePolicy, Rule
from campaign_bridge.mapping.model import ChangeAction, ChangeOutcome, OutcomeState
from campaign_bridge.sync.plan import Decision, Item, Kind, RunReport
from campaign_bridge.sync.store.states import LedgerState
from campaign_bridge.sync.store.store import LedgerRow, Store
from campaign_bridge.sync.target import Target


def record(
    store: Store,
    max_attempts: int,
    rule: Rule,
    target: Target,
    report: RunReport,
    batch: list[Item],
    outcomes: list[ChangeOutcome],
    now: datetime,
) -> list[Item]:
    """Persist each outcome in the ledger and its decision in the report; return follow-up items."""
    where = f"{target.connector.name}:{target.container.name}"
    rank = {s.label: s.rank for s in target.container.statuses}
    rows: list[tuple[Item, ChangeOutcome | None, str, str | None]] = []
    deletes: list[tuple[str, str]] = []
    follow: list[Item] = []
    items = [it for it in batch if it.target is not None]
    for item, outcome in zip(items, outcomes, strict=True):
        state = outcome.state
        if item.action is ChangeAction.REMOVE:
            if state in (OutcomeState.APPLIED, OutcomeState.ALREADY_ABSENT):
                deletes.append((rule.name, item.person_key))
                report.bump("removed")
                report.decisions.append(
                    Decision(Kind.REMOVED, item.person_key, item.email, "removed: no longer in the source", where)
                )
            else:
                rows.append((item, outcome, *failure(report, item, outcome, max_attempts, where)))
            continue
        if state is OutcomeState.APPLIED:
            owned = item.owned or item.action is ChangeAction.ADD
            rows.append(
                (
                    Item(item.action, item.person_key, item.email, item.status, item.target, owned=owned),
                    outcome,
                    "present",
                    None,
                )
            )
            kind = Kind.ADDED if item.action is ChangeAction.ADD else Kind.STATUS_CHANGED
            report.bump("added" if kind is Kind.ADDED else "status_changed")
            report.decisions.append(Decision(kind, item.person_key, item.email, _done(kind, item.status), where))
        elif state is OutcomeState.ALREADY_PRESENT:
            current = outcome.current_status
            rows.append(
                (
                    Item(item.action, item.person_key, item.email, current, item.target, owned=item.owned),
                    outcome,
                    "present",
                    None,
                )
            )
            report.bump("already_member")
            report.decisions.append(
                Decision(
                    Kind.ALREADY_MEMBER,
                    item.person_key,
                    item.email,
                    "already a member, added by this rule before (still its own)"
                    if item.owned
                    else "already a member (not added by this rule, so never removed by it)",
                    where,
                )
            )
            if item.status is not None and current is not None and current != item.status:
                if rank.get(item.status, 0) > rank.get(current, 0):
                    follow.append(
                        Item(
                            ChangeAction.SET_STATUS,
                            item.person_key,
                            item.email,
                            item.status,
                            item.target,
                            owned=item.owned,
                        )
                    )
                else:
                    report.decisions.append(
                        Decision(
                            Kind.STATUS_COLLISION,
                            item.person_key,
                            item.email,
                            f"kept {current!r} over {item.status!r}: a member status never moves backwards",
                            where,
                        )
                    )
        elif state is OutcomeState.OCCUPIED:
            if rule.exclusive is ExclusivePolicy.LATEST_WINS and not item.replace:
                follow.append(
                    Item(ChangeAction.ADD, item.person_key, item.email, item.status, item.target, replace=True)
                )
                verdict = "moved here"
            else:
                rows.append((item, outcome, "blocked", f"occupied by {outcome.occupant}"))
                verdict = "kept where they are"
            report.decisions.append(
                Decision(
                    Kind.EXCLUSIVE_TARGET,
                    item.person_key,
                    item.email,
                    f"already in {outcome.occupant}; {rule.exclusive.value}: {verdict}",
                    where,
                )
            )
        else:
            rows.append((item, outcome, *failure(report, item, outcome, max_attempts, where)))
    write_rows(store, rule, target, rows, now, deletes)
    return follow


def failure(report: RunReport, item: Item, outcome: ChangeOutcome, max_attempts: int, where: str) -> tuple[str, str]:
    error = f"{outcome.code}: {outcome.message}" if outcome.code else (outcome.message or "failed")
    if outcome.state is OutcomeState.REJECTED:
        report.bump("rejected")
        report.decisions.append(
            Decision(
                Kind.REJECTED_RECORD,
                item.person_key,
                item.email,
                f"{item.action.value} refused by the target: {error}",
                where,
            )
        )
        return "rejected", error
    item.attempts += 1
    report.bump("failed")
    if item.attempts >= max_attempts:
        report.decisions.append(
            Decision(
                Kind.DEAD_LETTER,
                item.person_key,
                item.email,
                f"gave up after {item.attempts} attempts: {error}",
                where,
            )
        )
        return "dead", error
    return "failed", error


def write_rows(
    store: Store,
    rule: Rule,
    target: Target,
    rows: Iterable[tuple[Item, ChangeOutcome | None, str, str | None]],
    now: datetime,
    deletes: list[tuple[str, str]] | None = None,
) -> None:
    out = []
    name, connection, container = rule.name, target.connector.name, target.container.id
    for item, _outcome, state, error in rows:
        ref = item.target
        out.append(
            LedgerRow(  # positional: a row per item written, and keywords cost more
                name,
                item.person_key,
                connection,
                container,
                ref.id if ref else None,
                ref.kind if ref else None,
                item.status if state == "present" else None,
                item.owned,
                _STATES[state],
                item.attempts,
                error,
                now,
            )
        )
    store.write_ledger(out, deletes or [])


def write_intents(store: Store, rule: Rule, target: Target, items: Iterable[Item], at: datetime) -> None:
    """The intents of the changes about to be sent (see ``BatchWriter.intend``), stamped ``at``: an add
    ``pending``, no status, **not owned**; a removal of an owned member ``removing``, still owned. Built
    here, not through ``write_rows``, because every add of a first sync passes through it: no copy of
    each item is made."""
    name, connection, container = rule.name, target.connector.name, target.container.id
    pending, removing, add = LedgerState.PENDING, LedgerState.REMOVING, ChangeAction.ADD
    rows = [
        LedgerRow(
            name,
            it.person_key,
            connection,
            container,
            it.target.id if it.target else None,
            it.target.kind if it.target else None,
            None,
            it.action is not add,
            pending if it.action is add else removing,
            it.attempts,
            None,
            at,
        )
        for it in items
    ]
    if rows:
        store.write_ledger(rows)


#: A state's string (or the state itself: a ``StrEnum`` hashes as its string) → the state, without the
#: enum's own lookup per row.
_STATES: dict[str, LedgerState] = {str(s): s for s in LedgerState}


@functools.lru_cache(maxsize=256)
def _done(kind: Kind, status: str | None) -> str:
    """The detail of an add or status change: one string per (kind, status), not one per member."""
    return f"{kind.value} with status {status!r}" if status else kind.value
