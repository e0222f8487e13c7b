"""The diff (DESIGN §5, steps 4–5): desired membership against the ledger, a batch of persons at a time.

For each person the run touched: an add when the rule wants them and has not (or not yet successfully)
written them, a status change when their status should rise, a removal when the rule no longer wants them
(owned: removed; not owned: released, left in place). Each batch's items are then checked against the
other rules writing to the same target: exclusive families, status collisions and shared members.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from campaign_bridge.config.models import ClientConfig, ExclusivePolicy, Mode, Rule
from campaign_bridge.errors import CampaignBridgeError
from campaign_bridge.mapping.model import ChangeAction, RecordRef
from campaign_bridge.sync.plan import Decision, Item, Kind, RunReport
from campaign_bridge.sync.store.states import RETRYABLE, LedgerState
from campaign_bridge.sync.store.store import LedgerRow, Store
from campaign_bridge.sync.target import Target

#: Rows that stay as they are until `campaign-bridge retry` or a change of rule.
TERMINAL = frozenset({LedgerState.DEAD, LedgerState.REJECTED, LedgerState.BLOCKED})
#: Rows a mirror rule removes when it owns them: in the target, or maybe (an add not confirmed yet).
REMOVABLE = frozenset({LedgerState.PRESENT, LedgerState.FAILED})
#: A killed run's change the target could not settle (``sync/intents.py``): never proof of ownership.
UNSETTLED_INTENTS = frozenset({LedgerState.PENDING, LedgerState.REMOVING})


class Differ:
    """Adds the plan items and decisions of one rule's run to its report, batch by batch."""

    def __init__(self, config: ClientConfig, store: Store, rule: Rule, target: Target, report: RunReport) -> None:
        self.config, self.store, self.rule, self.target, self.report = config, store, rule, target, report
        self.mode = config.mode_of(rule)
        self.max_attempts = config.defaults.max_attempts
        self.rank = {s.label: s.rank for s in target.container.statuses}
        # A Marketo channel may put two statuses on one step ("No Show" and "Attended" both at 30): between
        # those, the one listed later is the higher, so the choice does not depend on which record is read first.
        self._order = {s.label: (s.rank, i) for i, s in enumerate(target.container.statuses)}
        self.where = f"{target.connector.name}:{target.container.name}"

    def higher(self, a: str | None, b: str | None) -> str | None:
        """The higher ranked of two target statuses (either may be None); of two on one step, the later listed."""
        if a is None or b is None:
            return a or b
        return a if self._order.get(a, (0, -1)) >= self._order.get(b, (0, -1)) else b

    def diff(
        self,
        keys: Iterable[str],
        desired: Collection[str],
        ledger: Mapping[str, LedgerRow],
        emails: Mapping[str, str | None],
        statuses: Mapping[str, str] | None = None,
    ) -> None:
        """Plan the persons ``keys``: ``desired`` are those the target should hold, ``ledger`` their rows.

        With a ``status_map`` target, ``statuses`` gives each desired person's target status (from their
        source status); a desired person without one this run (still in the source through a record this
        read did not see) is left as they are."""
        report, mapped = self.report, bool(self.target.status_map)
        adds: list[Item] = []
        changes: list[Item] = []
        removals: list[Item] = []
        for key in sorted(keys):
            row = ledger.get(key)
            email = emails.get(key)
            want = (statuses or {}).get(key) if mapped else self.target.status
            if row is not None and row.state in TERMINAL and key in desired:
                continue  # terminal until `campaign-bridge retry` or a change of rule
            if key in desired and mapped and want is None:
                continue
            if key in desired:
                # A pending row is an add whose outcome was never recorded (the run died mid-batch) and
                # that the target could not settle (sync/intents.py): send it again. An intent is not
                # ownership: only the target's "applied" makes the member this rule's own.
                # A removing row is a removal a run died sending, for a person who is back in the source:
                # the member may be gone, so the add is sent again (still this rule's, if it was).
                if row is None or row.state in RETRYABLE or row.state is LedgerState.REMOVING:
                    if row is not None and row.attempts >= self.max_attempts:
                        continue
                    adds.append(
                        Item(
                            ChangeAction.ADD,
                            key,
                            email,
                            want,
                            _ref(row),
                            owned=bool(row and row.owned and row.state not in UNSETTLED_INTENTS),
                            attempts=row.attempts if row else 0,
                        )
                    )
                elif want is not None and row.status != want:
                    if self.rank.get(want, 0) > self.rank.get(row.status or "", 0):
                        changes.append(Item(ChangeAction.SET_STATUS, key, email, want, _ref(row), owned=row.owned))
                    else:
                        report.decisions.append(
                            Decision(
                                Kind.STATUS_COLLISION,
                                key,
                                email,
                                f"kept {row.status!r} over {want!r}: a member status never moves backwards",
                                self.where,
                            )
                        )
                continue
            if row is None:
                continue
            if self.mode is Mode.ADDITIVE and row.state in (LedgerState.PRESENT, LedgerState.PENDING):
                continue
            if row.owned and row.state in REMOVABLE:
                removals.append(Item(ChangeAction.REMOVE, key, email, None, _ref(row), owned=True))
            else:
                why = (
                    "no longer in the source; a run that stopped before the target confirmed its change left "
                    "it unsettled, and the target cannot say who added the member: left in place"
                    if row.state in UNSETTLED_INTENTS
                    else "no longer in the source, but this rule did not add it: left in place"
                )
                report.decisions.append(Decision(Kind.LEFT_IN_PLACE, key, email, why, self.where))
                report.bump("released")
                removals.append(Item(ChangeAction.REMOVE, key, email, None, _ref(row), owned=False))
        self._cross_rule_checks(adds, changes, removals)

    def _cross_rule_checks(self, adds: list[Item], changes: list[Item], removals: list[Item]) -> None:
        """Exclusive families, status collisions and shared members, against other rules' ledgers; then
        the batch's surviving items join the report's plan."""
        report, rule, container = self.report, self.rule, self.target.container
        keys = {i.person_key for i in (*adds, *changes, *removals)}
        others = self.store.others_on_target(rule.name, self.target.connector.name, keys) if keys else []
        same = {r.person_key: r for r in others if r.container_id == container.id}
        elsewhere: dict[str, list[LedgerRow]] = {}
        for r in others:
            if r.container_id != container.id:
                elsewhere.setdefault(r.person_key, []).append(r)
        for item in adds:
            other = same.get(item.person_key)
            if (
                other is not None
                and item.status is not None
                and self.rank.get(other.status or "", 0) > self.rank.get(item.status, 0)
            ):
                report.decisions.append(
                    Decision(
                        Kind.STATUS_COLLISION,
                        item.person_key,
                        item.email,
                        f"rule {other.rule!r} set {other.status!r}, which outranks {item.status!r}: kept {other.status!r}",
                        self.where,
                    )
                )
                continue
            if container.exclusive and elsewhere.get(item.person_key):
                holder = elsewhere[item.person_key][0]
                policy = rule.exclusive
                win = policy is ExclusivePolicy.LATEST_WINS or (
                    policy is ExclusivePolicy.PRIORITY and self._outranks(holder.rule)
                )
                verdict = "moved here" if win else "kept where they are"
                report.decisions.append(
                    Decision(
                        Kind.EXCLUSIVE_TARGET,
                        item.person_key,
                        item.email,
                        f"already in {holder.container_id} through rule {holder.rule!r}; {policy.value}: {verdict}",
                        self.where,
                    )
                )
                if not win:
                    continue
                item.replace = True
            report.adds.append(item)
        report.status_changes.extend(changes)
        for item in removals:
            other = same.get(item.person_key)
            if item.owned and other is not None:
                report.decisions.append(
                    Decision(
                        Kind.KEPT_FOR_OTHER_RULE,
                        item.person_key,
                        item.email,
                        f"no longer in this rule's source, but rule {other.rule!r} also wants this member: kept",
                        self.where,
                    )
                )
                item.owned = False  # released: ownership passes to the other rule
                item.other_rule = other.rule
            report.removals.append(item)

    def _outranks(self, holder: str) -> bool:
        """Whether this rule wins an exclusive slot held through rule ``holder``: the lower ``priority`` wins (a
        tie keeps the member where they are); a rule no longer in the file ranks below every rule in it, however
        large its number."""
        try:
            return self.rule.priority < self.config.rule(holder).priority
        except CampaignBridgeError:
            return True


def _ref(row: LedgerRow | None) -> RecordRef | None:
    if row is None or row.target_record_id is None or row.target_kind is None:
        return None
    return RecordRef(row.connection, row.target_kind, row.target_record_id)
