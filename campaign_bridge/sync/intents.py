"""Intents a killed run left behind, settled before the next run plans (DESIGN §5, step 7).

Before each batch of adds leaves, its intent goes to the ledger: ``pending``, **not owned** (an intent is
not ownership: until the target confirms the add, the person may be someone a person or another tool put
there). A run killed after sending leaves those rows pending, and the next run cannot tell from its own
state whether the add landed, or whether the member was there before.

So the next run asks the target, where it can say (``SupportsMemberSince``: Salesforce's
``CampaignMember.CreatedDate``, the memory systems): a member who joined at or after the intent (less
``CLOCK_SKEW``) was added by the killed run, and the row becomes ``present`` and owned (a mirror rule
removes it when it leaves the source); one who joined before it was there already, and the row becomes
``present``, not owned (never removed by the rule); one who is not a member is left pending, and its add
is sent again. A target that cannot say (HubSpot's list API answers no join time for chosen records)
leaves every pending row as it is: a member found present then is never claimed. That is the safe side
of the one window left: an add the target applied in the moment before the run was killed is kept in
place when the person leaves the source, and ``reconcile`` reports it as a member this rule does not own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaign_bridge.config.models import Rule
from campaign_bridge.connectors.base import SupportsMemberSince
from campaign_bridge.mapping.model import RecordRef
from campaign_bridge.sync.plan import Decision, Kind, RunReport
from campaign_bridge.sync.store.rows import LedgerRow
from campaign_bridge.sync.store.states import LedgerState
from campaign_bridge.sync.store.store import Store
from campaign_bridge.sync.target import Target

#: How far the target's clock may run behind ours and a member who joined "before" the intent still count
#: as the killed run's add. A person adding the same member by hand within this minute before the run sent
#: it is the case this cannot tell apart; vendor clocks are NTP-synchronised to well within it.
CLOCK_SKEW = timedelta(seconds=60)


def settle_intents(store: Store, rule: Rule, target: Target, report: RunReport, now: datetime) -> None:
    """Turn the rule's pending intents into what the target says happened (see the module docstring).
    One ``member_since`` call per ``lookup_batch_size`` pending rows; none when there are none."""
    conn = target.connector
    if not isinstance(conn, SupportsMemberSince):
        return
    keys = store.ledger_keys_in_state(rule.name, (LedgerState.PENDING,))
    if not keys:
        return
    rows = [
        r
        for r in store.ledger(rule.name, sorted(keys)).values()
        if r.target_record_id and r.target_kind and r.container_id == target.container.id
    ]
    where = f"{conn.name}:{target.container.name}"
    step = conn.lookup_batch_size
    for i in range(0, len(rows), step):
        batch = rows[i : i + step]
        refs = [RecordRef(r.connection, r.target_kind or "", r.target_record_id or "") for r in batch]
        members = conn.member_since(target.container, refs)
        emails = store.persons([r.person_key for r in batch])
        settled: list[LedgerRow] = []
        for row in batch:
            joined = members.get(row.target_record_id or "")
            if joined is None:
                continue  # not a member: the add never landed; it is sent again
            ours = row.written_at is not None and joined.at >= _aware(row.written_at) - CLOCK_SKEW
            settled.append(row._replace(state=LedgerState.PRESENT, owned=ours, status=joined.status, written_at=now))
            detail = (
                "added by a run that stopped before recording it (the target shows it joined after the run "
                "sent the add): this rule's own"
                if ours
                else "already a member before a run that stopped sent the add: not added by this rule, so never "
                "removed by it"
            )
            report.decisions.append(
                Decision(Kind.ALREADY_MEMBER, row.person_key, emails.get(row.person_key), detail, where)
            )
        if settled:
            store.write_ledger(settled)
    report.bump("intents_settled", len(rows))


def _aware(moment: datetime) -> datetime:
    """A stamp read back from SQLite comes naive (UTC): make it comparable with the target's aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
