"""What the target must hold, worked out from the scenario alone: never from the tool's state store.

The oracle knows what the scenario did: who is in the source (and with which status), which target
records a person added by hand (and when: only a record that was not a member then, so the person is the
one who put it there), which values the target refuses, the rule's mode, status and ``create_missing``.
From that it says, record by record, what the target must hold once the rule has settled, and what may
never happen after any run, killed or not:

* a member a person added is never removed by the rule (``mirror`` removes only what it added);
* no target record holds the membership twice, and no person is created twice;
* once settled, ``mirror``: exactly the hand-added members plus the target record of every person the
  rule wants; ``additive``: at least those, and nothing the rule never wanted;
* statuses, where the target has them: the rule's status on what it added; a hand-added member it also
  wants is raised to the rule's status when that ranks higher, and never lowered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from campaign_bridge.mapping.model import normalise_email
from tests.reliability.systems import RULE_STATUS, STATUSES, Member

RANK = {s: i for i, s in enumerate(STATUSES)}


@dataclass
class SourcePerson:
    record: str  # in the source system
    email: str | None  # as the source holds it (case and spaces kept)
    status: str | None = None  # source membership status; None: not a member

    @property
    def key(self) -> str | None:
        return normalise_email(self.email)


@dataclass
class Oracle:
    mode: str  # mirror | additive
    crm_target: bool
    status_filter: bool  # a CRM source syncs only Responded and Attended members
    create_missing: str  # skip | lead | contact (a CRM target); an MA target always creates
    rejected: frozenset[str]  # emails the target refuses to add
    people: list[SourcePerson]
    #: target record → the status a person gave it, for every member a person added by hand.
    hand: dict[str, str | None] = field(default_factory=dict)
    #: emails the rule wanted at the start of some run (an ``additive`` rule may have added them since).
    ever_wanted: set[str] = field(default_factory=set)
    #: emails whose target record existed before any run (the rule may not create another).
    existed: set[str] = field(default_factory=set)
    #: target records a killed run added to a target that cannot say who added a member (HubSpot), the
    #: target applied and the run never heard of: the documented window (docs/reliability.md, "The window
    #: that remains"). Such a member is never claimed, so a mirror rule may leave it when it is unwanted.
    unclaimable: set[str] = field(default_factory=set)

    # -- what the scenario does ------------------------------------------------------------------------
    def hand_added(self, records: dict[str, str | None], members: list[Member]) -> dict[str, str | None]:
        """A person adds ``{record: status}``: each becomes theirs only if it was not a member (else
        nothing changes). Returns those the person actually adds."""
        present = {m.record for m in members}
        added = {r: s for r, s in records.items() if r not in present}
        self.hand.update(added)
        return added

    def hand_removed(self, record: str) -> None:
        self.hand.pop(record, None)

    def run_starts(self) -> None:
        self.ever_wanted |= self.wanted()

    # -- what the rule wants -------------------------------------------------------------------------------
    def wanted(self) -> set[str]:
        """Emails the rule wants in the target now (before matching: a CRM target may lack the person)."""
        out = set()
        for p in self.people:
            if p.status is None or p.key is None or p.key in self.rejected:
                continue
            if not self.crm_target and self.status_filter and p.status not in ("Responded", "Attended"):
                continue
            out.add(p.key)
        return out

    def _matchable(self, email: str) -> bool:
        return not self.crm_target or self.create_missing != "skip" or email in self.existed

    # -- checks ----------------------------------------------------------------------------------------------
    def after_any_run(self, members: list[Member], records: dict[str, list[str]]) -> list[str]:
        """What may never happen, killed or not: a hand-added member gone, a membership or a person twice."""
        problems = []
        present = Counter(m.record for m in members)
        gone = sorted(r for r in self.hand if r not in present)
        if gone:
            problems.append(f"removed members a person added (the rule never owned them): {gone}")
        twice = sorted(r for r, n in present.items() if n > 1)
        if twice:
            problems.append(f"records that are members twice: {twice}")
        dupes = sorted(e for e, ids in records.items() if len(ids) > 1)
        if dupes:
            problems.append(f"people created twice in the target: {dupes}")
        return problems

    def settled(self, members: list[Member], records: dict[str, list[str]]) -> list[str]:
        """What the target must hold once the rule has settled."""
        problems = self.after_any_run(members, records)
        actual = {m.record: m.status for m in members}
        wanted = {e for e in self.wanted() if self._matchable(e)}
        want_records: dict[str, str] = {}
        for email in sorted(wanted):
            ids = records.get(email, [])
            if not ids:
                problems.append(f"{email}: wanted, but the target has no record for them (not created)")
            else:
                want_records[ids[0]] = email
        may_records = {rid for e in self.ever_wanted if self._matchable(e) for rid in records.get(e, [])}
        must = set(want_records) | set(self.hand)
        allowed = must | (may_records if self.mode == "additive" else set()) | self.unclaimable
        missing, extra = sorted(must - set(actual)), sorted(set(actual) - allowed)
        if missing:
            problems.append(f"missing members: {[(r, want_records.get(r, 'hand-added')) for r in missing]}")
        if extra:
            problems.append(f"members nobody wants (or the rule removed too little): {extra}")
        if self.crm_target:
            problems += self._statuses(actual, want_records)
        return problems

    def _statuses(self, actual: dict[str, str | None], want_records: dict[str, str]) -> list[str]:
        problems = []
        for record, status in sorted(actual.items(), key=lambda kv: kv[0]):
            if record in self.hand:
                by_hand = self.hand[record] or STATUSES[0]
                raised = max(by_hand, RULE_STATUS, key=RANK.__getitem__)
                # Once it has left the source: raised while the rule wanted it, or never; both right.
                ok = {raised} if record in want_records else {by_hand, raised}
            elif record in want_records or self.mode == "additive":
                ok = {RULE_STATUS}
            else:
                continue  # reported above as unwanted
            if status not in ok:
                problems.append(f"{record}: status {status!r}, expected one of {sorted(ok)}")
        return problems
