"""The safety guard (DESIGN §5, step 5): a plan that removes more of a rule's members than its safety
limits allow has its removals held, not applied, because an empty or broken source looks exactly like
everyone leaving. (Adds, status changes and their follow-ups go out as planned: they are written while
the source is read, so that a run killed every few minutes still makes progress.)

Two limits, from the rule's ``safety`` (or the file's defaults): ``max_removals``, a count, and
``max_removal_fraction``, a share of the members the rule owned when the run began (``owned_now``, read
before the run writes anything). Not of those it owns when the guard runs: by then some of this run's adds
are written and recorded, how many depending on batch sizes and on when lookups come back, and a safety
limit must not depend on timing. The share is only judged on plans that remove at least
``MIN_REMOVALS_FOR_FRACTION`` members: on a small list, one leaver is already a large share.

A held plan may be approved by a person (the admin console records it: ``Store.decide_plan``). One sync then
applies its removals over the limits, if they are all among the removals approved (``held_keys`` of the held
plan); a plan that grew since is held again, a discarded plan changes nothing, and so does an approval of a
plan that a later sync went through.
"""

from __future__ import annotations

from campaign_bridge.config.models import ClientConfig, Rule
from campaign_bridge.sync.plan import Decision, Kind, RunReport
from campaign_bridge.sync.store.states import LedgerState
from campaign_bridge.sync.store.store import Store

#: The removal-fraction limit only applies to plans removing at least this many members.
MIN_REMOVALS_FOR_FRACTION = 10


class SafetyGuard:
    """Judges a rule's plans against its safety limits."""

    def __init__(self, config: ClientConfig, store: Store) -> None:
        self.config, self.store = config, store

    def could_hold(self, rule: Rule) -> bool:
        """Whether this run's plan might be held: only when the rule has ledger rows it could remove, more
        than its safety limits allow. A rule with none (a first sync) can never be held, so its run also
        writes the tail of its adds while the last lookups come in."""
        counts = self.store.ledger_counts(rule.name)
        removable = sum(n for state, n in counts.items() if state != "owned")
        safety = self.config.safety_of(rule)
        return removable > 0 and (removable > safety.max_removals or removable >= MIN_REMOVALS_FOR_FRACTION)

    def owned_now(self, rule: Rule) -> int:
        """The members the rule owns in its target now (its present owned ledger rows): what the engine
        reads when the rule's run begins, before it writes, and hands to ``holds``."""
        return self.store.ledger_counts(rule.name).get("owned", 0)

    def holds(self, rule: Rule, report: RunReport, owned_at_start: int) -> bool:
        """Whether the plan in ``report`` is over a limit; if so, says why in ``report.message`` and a
        ``held_plan`` decision. ``owned_at_start``: ``owned_now`` when the run began."""
        safety = self.config.safety_of(rule)
        removing = sum(1 for i in report.removals if i.owned)
        if not removing:
            return False
        over_count = removing > safety.max_removals
        # At least ``removing``: every member removed is one the rule owns. Should the store ever say less, the
        # plan counts as removing all the rule owns (held, never a division by zero in a night's run). Read
        # only where the share applies: ``_owned`` reads the ledger row of every removal.
        share_applies = removing >= MIN_REMOVALS_FOR_FRACTION
        owned = max(self._owned(rule, report, owned_at_start), removing) if share_applies else removing
        over_share = share_applies and removing / owned > safety.max_removal_fraction
        if not (over_count or over_share) or self._approved(rule, report):
            return False
        why = (
            f"the plan removes {removing} members, more than max_removals={safety.max_removals}"
            if over_count
            else f"the plan removes {removing} of {owned} members, more than max_removal_fraction={safety.max_removal_fraction}"
        )
        report.message = f"removals held, not applied: {why}; check the source, then approve these removals in the console (campaign-bridge ui), raise the limit, or run with --full"
        report.decisions.append(Decision(Kind.HELD_PLAN, None, None, report.message, rule.target.container_name))
        return True

    def _owned(self, rule: Rule, report: RunReport, present: int) -> int:
        """The members the rule owns in its target, for the share: those present when the run began, and
        those a removal retries because it failed last time (still there, still the rule's, but ``failed``
        in the ledger). Without the latter, a retry of failed removals was judged against the members left
        over, and held ("removes 10 of 1 members") though the plan that first sent those removals was
        within the limit. A removal of the rule's own is always of a ``present`` or a ``failed`` row
        (``diff.REMOVABLE``)."""
        rows = self.store.ledger(rule.name, [i.person_key for i in report.removals if i.owned])
        return present + sum(1 for row in rows.values() if row.state == LedgerState.FAILED)

    def held_keys(self, report: RunReport) -> list[str]:
        """The person keys of the removals a held plan holds (what an approval covers), sorted."""
        return sorted(i.person_key for i in report.removals if i.owned)

    def _approved(self, rule: Rule, report: RunReport) -> bool:
        """Whether a person approved these removals: a sync (never a plan), an approval not yet used, of
        the newest held plan, covering every removal now planned. Marks the approval used by this run."""
        if report.mode != "sync" or report.run_id is None:
            return False
        found = self.store.approved_removals(rule.name)
        if found is None:
            return False
        approval, by, keys = found
        if not set(self.held_keys(report)) <= keys or not self.store.use_approval(approval, report.run_id):
            return False
        report.message = f"removals over the safety limits applied as approved by {by}"
        return True
