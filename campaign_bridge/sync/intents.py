"""Intents a killed run left behind, settled before the next run plans (DESIGN §5, step 7): its adds
(``pending``) and its removals (``removing``).

Before each batch of adds leaves, its intent goes to the ledger: ``pending``, **not owned** (an intent is
not ownership: until the target confirms the add, the person may be someone a person or another tool put
there). A run killed after sending leaves those rows pending, and the next run cannot tell from its own
state whether the add landed, or whether the member was there already, or was put there by a person
since.

So the next run asks the target who added each such member, where it can say (``SupportsMemberOrigin``:
Salesforce's ``CampaignMember.CreatedById`` against the integration user the connector logged in as; the
memory systems): added by this integration → the killed run's add (or, for a removal, a member the
removal never reached), and the row becomes ``present`` and owned (a mirror rule removes it when it
leaves the source); added by someone else → ``present``, not owned (never removed by the rule); not a
member → an add is left pending and sent again, a removal landed and the row is deleted. A target that
cannot say (HubSpot's list API records no author; a Salesforce connection given a bare session id)
leaves every pending row as it is, and a member found present then is never claimed. That is the one
window left, on the safe side: an add such a target applied in the moment before the run was killed is
kept in place when the person leaves the source, and ``reconcile`` reports it as a member this rule does
not own. (Another rule or tool running as the same integration user counts as "this integration".)
"""

from __future__ import annotations

from datetime import datetime

from campaign_bridge.config.models import Rule
from campaign_bridge.connectors.base import SupportsMemberOrigin
from campaign_bridge.mapping.model import RecordRef
from campaign_bridge.sync.plan import Decision, Kind, RunReport
from campaign_bridge.sync.store.rows import LedgerRow
from campaign_bridge.sync.store.states import LedgerState
from campaign_bridge.sync.store.store import Store
from campaign_bridge.sync.target import Target


def settle_intents(store: Store, rule: Rule, target: Target, report: RunReport, now: datetime) -> None:
    """Turn the rule's pending intents into what the target says happened (see the module docstring).
    One ``member_origin`` call per ``lookup_batch_size`` pending rows; none when there are none."""
    conn = target.connector
    if not isinstance(conn, SupportsMemberOrigin):
        return
    keys = store.ledger_keys_in_state(rule.name, (LedgerState.PENDING, LedgerState.REMOVING))
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
        members = conn.member_origin(target.container, refs)
        emails = store.persons([r.person_key for r in batch])
        settled: list[LedgerRow] = []
        gone: list[tuple[str, str]] = []
        for row in batch:
            found = members.get(row.target_record_id or "")
            if row.state is LedgerState.REMOVING and found is None:
                gone.append((rule.name, row.person_key))  # the removal landed: the rule holds nothing there
                continue
            if found is None or found.added_by_us is None:
                continue  # an add that never landed (sent again), or no evidence: never claimed
            ours = found.added_by_us
            settled.append(row._replace(state=LedgerState.PRESENT, owned=ours, status=found.status, written_at=now))
            detail = _detail(row.state, ours)
            report.decisions.append(
                Decision(Kind.ALREADY_MEMBER, row.person_key, emails.get(row.person_key), detail, where)
            )
        if settled or gone:
            store.write_ledger(settled, gone)
    report.bump("intents_settled", len(rows))


def _detail(state: LedgerState, ours: bool) -> str:
    """What the target's answer made of a killed run's add (``pending``) or removal (``removing``)."""
    if state is LedgerState.PENDING:
        if ours:
            return "added by a run that stopped before recording it (the target shows this integration added it): this rule's own"
        return "a member someone else added, found after a run that stopped had sent the add: not added by this rule, so never removed by it"
    if ours:
        return (
            "still a member this integration added: the removal a stopped run sent never landed; still this rule's own"
        )
    return "a member someone else added again after a run that stopped had removed it: not added by this rule, so never removed by it"
