"""The transport-fault soak: what the vendors' APIs do wrong, in process, against both sandboxes.

(The kill soak, ``soak.py``, kills real processes and checks record by record against an independent
oracle; this one covers what it does not: 5xx and 429 answers, dropped connections, HTML bodies, time-outs,
expiring sessions, partial Collections failures and spent quotas, with retries that never sleep. Its
checks compare emails and read the tool's ledger for refusals, and its "kills" are exceptions raised at
four points in process: weaker, and so kept only for the faults.)

A scenario is one rule (Salesforce campaign → HubSpot list, or HubSpot list → Salesforce campaign, both
``mirror``) and a few rounds. Each round changes the source, lets a person edit the target by hand (on
members the rule never added, or by deleting a target record), then runs the rule with faults on: 5xx
and 429 answers, dropped connections, HTML instead of JSON, slow answers and time-outs, sessions or
tokens expiring mid-run, Collections calls where some records fail, a spent daily quota or run budget,
and the process dying (between batches, after the target applied a batch but before the run recorded
it, after a lookup or a creation). Then faults stop and the rule settles. The checks:

* the target holds exactly the desired members (the source's, less people deleted in the target and
  people who cannot be matched or were refused), plus the hand-added ones;
* every refused or unmatched person has a reason the user can read (``explain``);
* no member the rule did not add was ever removed, after any run;
* once settled, a run writes nothing.

Short run (the default tests): ``tests/reliability/test_transport_soak.py``. Long run, on demand::

    python -m tests.reliability.transport_soak --scenarios 2000 --seed 1
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.policy import DEFAULT_MAX_WAIT, MAX_RATE_LIMIT_WAIT
from campaign_bridge.errors import CampaignBridgeError
from campaign_bridge.mapping.model import normalise_email
from campaign_bridge.sync.engine import LEASE_SECONDS, Engine
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.store.store import Store
from tests.reliability.bench import Bench


class Killed(BaseException):
    """The process died here (SIGKILL): nothing after this point of the run happens, no cleanup runs."""


KILL_POINTS = ("before_batch", "after_batch", "after_lookup", "after_create")
SETTLE_RUNS = 5


@dataclass
class Survived:
    """What one scenario (or a whole soak) went through."""

    scenarios: int = 0
    runs: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    longest_wait: float = 0.0

    def add(self, other: Survived) -> None:
        self.scenarios += other.scenarios
        self.runs += other.runs
        self.longest_wait = max(self.longest_wait, other.longest_wait)
        self.faults.update(other.faults)
        self.statuses.update(other.statuses)


@dataclass
class Person:
    email: str | None
    source_id: str = ""  # record id in the source system
    target_id: str | None = None  # record id in the target system, when it exists there
    in_source: bool = False
    deleted_in_target: bool = False


class Scenario:
    """One seeded scenario on a reset bench. ``run()`` raises AssertionError naming the seed on failure."""

    def __init__(self, bench: Bench, seed: int, tmp: Path) -> None:
        self.bench, self.seed, self.tmp = bench, seed, tmp
        self.rng = random.Random(seed)
        self.direction = "sf-hs" if seed % 2 == 0 else "hs-sf"
        self.survived = Survived(scenarios=1)

    # -- setup -------------------------------------------------------------------------------------
    def _setup(self) -> None:
        b, rng = self.bench, self.rng
        b.reset()
        sf, hs = b.sf.state, b.hs.state
        self.campaign = sf.add_campaign("Webinar", statuses=[("Sent", False), ("Responded", True)])
        self.list_id = hs.add_list("Nurture", "MANUAL")
        self.sf_members: dict[str, str] = {}  # person record id → CampaignMember id
        n = rng.randint(3, 8)
        self.people: list[Person] = []
        for i in range(n):
            email = f"p{i}@soak{self.seed}.test"
            if rng.random() < 0.15:
                # Case (and, where the source keeps it, whitespace) do not make another person.
                email = f"P{i}@Soak{self.seed}.TEST" if self.direction == "sf-hs" else f"  P{i}@Soak{self.seed}.TEST "
            if rng.random() < 0.07:
                email = ""  # a record with no email: unmatched, with a reason
            p = Person(email or None)
            exists_in_target = rng.random() < 0.5
            if self.direction == "sf-hs":
                p.source_id = sf.add_lead(email or None) if rng.random() < 0.3 else sf.add_contact(email or None)
                if exists_in_target and email:
                    p.target_id = hs.add_contact(normalise_email(email) or "")
            else:
                p.source_id = hs.add_contact(email)
                if exists_in_target and email:
                    p.target_id = sf.add_contact(normalise_email(email))
            self.people.append(p)
        self.hand: list[Person] = []
        for i in range(2):
            email = f"hand{i}@soak{self.seed}.test"
            tid = hs.add_contact(email) if self.direction == "sf-hs" else sf.add_contact(email)
            self.hand.append(Person(email, target_id=tid))
        self.hand_in: set[str] = set()
        self.store = Store(f"sqlite:///{self.tmp / f'soak-{self.seed}.db'}")
        rule = "src" if self.direction == "sf-hs" else "hs-src"
        self.rule = rule
        if self.direction == "sf-hs":
            self.rules = f"""  - name: {rule}
    from: {{connection: sf, campaign: Webinar}}
    to: {{connection: hs, list: Nurture}}
    mode: mirror
    safety: {{max_removals: 1000, max_removal_fraction: 1.0}}
"""
        else:
            self.rules = f"""  - name: {rule}
    from: {{connection: hs, list: Nurture-src}}
    to: {{connection: sf, campaign: Webinar, status: Responded}}
    match: {{create_missing: lead}}
    mode: mirror
    safety: {{max_removals: 1000, max_removal_fraction: 1.0}}
"""
            self.source_list = hs.add_list("Nurture-src", "MANUAL")
        self.hs_oauth = rng.random() < 0.5

    # -- the source and the target, as the test sees them --------------------------------------------
    def _src_add(self, p: Person) -> None:
        if p.in_source:
            return
        if self.direction == "sf-hs":
            self.sf_members[p.source_id] = self.bench.sf.state.add_member(self.campaign, p.source_id)
        else:
            self.bench.hs.state.add_list_members(self.source_list, [p.source_id])
        p.in_source = True

    def _src_remove(self, p: Person) -> None:
        if not p.in_source:
            return
        if self.direction == "sf-hs":
            self.bench.sf.state.remove_member(self.sf_members.pop(p.source_id))
        else:
            self.bench.hs.state.remove_list_members(self.source_list, [p.source_id])
        p.in_source = False

    def _target_ids(self) -> set[str]:
        if self.direction == "sf-hs":
            return self.bench.hs.state.list_members(self.list_id)
        return set(self.bench.sf.state.members(self.campaign))

    def _target_emails(self) -> set[str]:
        out = set()
        for tid in self._target_ids():  # a deleted (archived) person is nobody's member
            if self.direction == "sf-hs":
                try:
                    email = self.bench.hs.state.get_contact(tid).get("email", "")
                except KeyError:
                    continue
            else:
                rec = self.bench.sf.state.get(tid) or {"IsDeleted": True}
                if rec.get("IsDeleted"):
                    continue
                email = rec.get("Email") or ""
            out.add(normalise_email(email) or "")
        return out

    def _hand_edit(self, p: Person, add: bool) -> None:
        assert p.target_id is not None
        assert p.email is not None
        if self.direction == "sf-hs":
            if add:
                self.bench.hs.state.add_list_members(self.list_id, [p.target_id])
            else:
                self.bench.hs.state.remove_list_members(self.list_id, [p.target_id])
        else:
            members = self.bench.sf.state.members(self.campaign)
            if add and p.target_id not in members:
                self.bench.sf.state.add_member(self.campaign, p.target_id)
            elif not add and p.target_id in members:
                table = self.bench.sf.state.tables["CampaignMember"]
                for mid in self.bench.sf.state.lookup("CampaignMember", "CampaignId", self.campaign):
                    m = table[mid]
                    if not m["IsDeleted"] and (m.get("ContactId") or m.get("LeadId")) == p.target_id:
                        self.bench.sf.state.remove_member(mid)
        (self.hand_in.add if add else self.hand_in.discard)(p.email)

    def _delete_in_target(self) -> None:
        """A person deletes a target record the crosswalk may already know: the vendor then refuses
        writes naming it (a per-record failure inside an otherwise good batch)."""
        email_to_person = {normalise_email(p.email): p for p in self.people if p.email}
        known: list[tuple[Person, str]] = []
        for p in email_to_person.values():
            tid = self._find_in_target(p)
            if tid is not None and not p.deleted_in_target:
                known.append((p, tid))
        if not known:
            return
        p, tid = self.rng.choice(known)
        if self.direction == "sf-hs":
            self.bench.hs.state.archive_contact(tid)
        else:
            self.bench.sf.state.delete(tid)
        p.deleted_in_target = True
        self.survived.faults["target_record_deleted"] += 1

    def _find_in_target(self, p: Person) -> str | None:
        email = normalise_email(p.email)
        if email is None:
            return None
        if self.direction == "sf-hs":
            return self.bench.hs.state.find_contact(email)
        ids = [r["Id"] for r in self.bench.sf.state.tables["Contact"].values() if r.get("Email") == email]
        ids += [r["Id"] for r in self.bench.sf.state.tables["Lead"].values() if r.get("Email") == email]
        return ids[0] if ids else None

    # -- runs ----------------------------------------------------------------------------------------
    def _config(self, *, calm: bool) -> ClientConfig:
        budget = None if calm or self.rng.random() > 0.1 else self.rng.randint(6, 20)
        slow = not calm and self.rng.random() < 0.04
        return self.bench.config(
            self.rules,
            f"sqlite:///{self.tmp / f'soak-{self.seed}.db'}",
            hs_oauth=self.hs_oauth,
            budget=budget,
            timeout=0.1 if slow else 5.0,
        )

    def _faults(self) -> None:
        rng = self.rng
        for server in (self.bench.sf.server, self.bench.hs.server):
            server.faults.configure(
                seed=rng.randrange(2**32),
                error_rate=rng.choice((0.0, 0.05, 0.15, 0.3)),
                error_status=rng.choice((500, 502, 503, 504, 429)),
                drop_rate=rng.choice((0.0, 0.0, 0.05, 0.1)),
                garbage_rate=rng.choice((0.0, 0.0, 0.05, 0.1)),
                slow_rate=rng.choice((0.0, 0.05)),
                slow_seconds=0.002,
            )
        # Some runs: one answer slower than the client's time-out (see ``_config``).
        if rng.random() < 0.04:
            server = rng.choice((self.bench.sf.server, self.bench.hs.server))
            server.faults.slow_seconds = 0.15
            server.faults.queue("slow")
        self.bench.sf_chaos.arm(
            random.Random(rng.randrange(2**32)),
            expire_at=rng.randint(2, 25) if rng.random() < 0.25 else None,
            lock_rate=rng.choice((0.0, 0.0, 0.2, 0.5)),
        )
        self.bench.hs_chaos.arm(  # private-app tokens never expire; OAuth access tokens do
            random.Random(rng.randrange(2**32)),
            expire_at=rng.randint(2, 25) if rng.random() < 0.25 and self.hs_oauth else None,
            lock_rate=0.0,
        )
        if rng.random() < 0.1:  # the day's quota runs out during this run
            if self.direction == "sf-hs" or rng.random() < 0.5:
                self.bench.sf.state.set_daily_limit(self.bench.sf.state.api_usage + rng.randint(3, 15))
            else:
                limits = self.bench.hs.state.limits
                limits.daily = limits._daily_used + rng.randint(3, 15)
        if rng.random() < 0.1:  # a ten-second window so tight that HubSpot answers 429s
            self.bench.hs.state.limits.ten_second = rng.randint(3, 8)

    def _calm(self) -> None:
        for server in (self.bench.sf.server, self.bench.hs.server):
            for kind, n in server.faults.injected.items():
                self.survived.faults[kind] += n
            server.faults.configure()
        for chaos in (self.bench.sf_chaos, self.bench.hs_chaos):
            self.survived.faults.update(chaos.injected)
            chaos.injected = Counter()
            chaos.arm(random.Random(0), expire_at=None, lock_rate=0.0)
        self.bench.sf.state.set_daily_limit(None)
        self.bench.sf.state.reset_usage()
        self.bench.hs.state.limits.daily = None
        self.bench.hs.state.limits.ten_second = None
        self.bench.hs.state.limits.reset()

    def _engine(self, config: ClientConfig, kill: tuple[str, int] | None) -> Engine:
        connectors = self.bench.connectors(config)
        target: Connector = connectors["hs" if self.direction == "sf-hs" else "sf"]
        target.write_batch_size = self.rng.choice((1, 2, 3))  # type: ignore[misc]  # many batches: many places to die
        if kill is not None:
            _arm_kill(target, *kill)
        return Engine(config, self.store, connectors, clock=self.bench.clock, holder=f"worker-{self.rng.random()}")

    def _run(self, *, calm: bool) -> dict[str, Any] | None:
        config = self._config(calm=calm)
        kill = None
        if not calm and self.rng.random() < 0.35:
            kill = (self.rng.choice(KILL_POINTS), self.rng.randint(0, 3))
        engine = self._engine(config, kill)
        hand_before = self._target_emails() & self.hand_in
        self.survived.runs += 1
        report: dict[str, Any] | None = None
        try:
            result = engine.sync(self.rule)
            report = result.as_json()
            self.survived.statuses[result.status] += 1
        except Killed:
            self.survived.faults["killed"] += 1
            self.survived.statuses["killed"] += 1
            # A killed worker never releases its lease: the next run waits for it to expire.
            now = self.bench.clock()
            self.store.try_lease(self.rule, engine.holder, now + timedelta(seconds=LEASE_SECONDS), now)
            self.bench.clock.tick(LEASE_SECONDS + 1)
        except CampaignBridgeError as exc:  # a fatal error is a bug here: nothing in a scenario is fatal
            raise AssertionError(f"seed {self.seed}: the run failed: {exc}") from exc
        finally:
            for c in engine.connectors.values():
                c.close()
            self.bench.clock.tick(30)
        lost = hand_before - self._target_emails()
        assert not lost, f"seed {self.seed}: the rule removed members it did not add: {sorted(lost)}"
        return report

    def run(self) -> Survived:
        self._setup()
        try:
            self._rounds()
            self._settle()
            self._check()
        finally:
            self.store.close()
        waits = self.bench.waits
        assert all(w <= MAX_RATE_LIMIT_WAIT for w in waits), f"seed {self.seed}: a wait past the cap: {max(waits)}"
        self.survived.longest_wait = max([0.0, *waits])
        return self.survived

    def _rounds(self) -> None:
        rng = self.rng
        for p in self.people:
            if rng.random() < 0.6:
                self._src_add(p)
        for _ in range(rng.randint(1, 3)):
            for p in self.people:
                roll = rng.random()
                if roll < 0.12:
                    self._src_add(p)
                elif roll < 0.22:
                    self._src_remove(p)
            for h in self.hand:
                if rng.random() < 0.3:
                    self._hand_edit(h, add=h.email not in self.hand_in)
            if rng.random() < 0.1:
                self._delete_in_target()
            self._faults()
            self._run(calm=False)
            self._calm()

    def _settle(self) -> None:
        """Runs without faults until one has nothing left to write (a settled rule writes nothing)."""
        for _ in range(SETTLE_RUNS):
            report = self._run(calm=True)
            assert report is not None
            if report["status"] == "ok" and not _writes(report):
                return
            if self.store.ledger_keys_in_state(self.rule, ("dead",)):
                self.store.requeue(self.rule)  # what `campaign-bridge retry` does
                self.survived.faults["requeued_dead_letters"] += 1
        raise AssertionError(f"seed {self.seed}: still writing after {SETTLE_RUNS} runs without faults: {report}")

    def _check(self) -> None:
        seed = self.seed
        refused = {}
        ledger = self.store.ledger(self.rule)
        for row in ledger.values():
            assert row.state not in ("pending", "failed", "dead"), f"seed {seed}: a {row.state} item after settling"
            if row.state in ("rejected", "blocked"):
                assert row.last_error, f"seed {seed}: a {row.state} item without a reason"
                email = self.store.persons([row.person_key]).get(row.person_key)
                refused[email] = row.last_error
        desired = {normalise_email(p.email) for p in self.people if p.in_source and p.email}
        deleted = {normalise_email(p.email) for p in self.people if p.deleted_in_target}
        expected = {e for e in desired - deleted - set(refused) if e} | self.hand_in
        actual = self._target_emails()
        # A person whose target record was deleted is back only if the rule created them again (it does
        # when the crosswalk had not met the deleted record yet): either way is right.
        actual_known = actual - (deleted & desired)
        assert actual_known == expected - deleted, (
            f"seed {seed}: target {sorted(actual)} != expected {sorted(expected)} "
            f"(missing {sorted(expected - actual)}, extra {sorted(actual - expected)}, refused {refused})"
        )
        config = self._config(calm=True)
        for email in refused:
            if email is None:
                continue
            verdict = explain(self.store, config, email)[0]
            reason = verdict["verdict"] + " ".join(d["detail"] for d in verdict["decisions"])
            assert "not in" in reason, f"seed {seed}: explain says {email} is in the target: {reason}"
            assert len(reason) > 20, f"seed {seed}: no readable reason for {email}: {reason}"
        if any(p.in_source and not p.email for p in self.people):
            # The decision log says so, unless the run that decided it died before writing its log: then
            # the ledger keeps the reason (what `explain` shows).
            logged = self.store.decisions(rule=self.rule, kind="unmatched_person")
            kept = [r for r in ledger.values() if r.last_error and "no email" in r.last_error]
            assert logged or kept, f"seed {seed}: a source member with no email and no reason why it is not synced"


def _writes(report: dict[str, Any]) -> bool:
    counts = report["counts"]
    return bool(counts.get("added") or counts.get("removed") or counts.get("status_changed"))


def _arm_kill(conn: Connector, point: str, after: int) -> None:
    """Make the process 'die' at ``point`` the ``after``-th time the run gets there."""
    seen = 0

    def tick() -> bool:
        nonlocal seen
        seen += 1
        return seen > after

    if point in ("before_batch", "after_batch"):
        real_apply = conn.apply_changes

        def apply(container: Any, changes: Any) -> Any:
            if point == "before_batch" and tick():
                raise Killed
            outcomes = real_apply(container, changes)
            if point == "after_batch" and tick():
                raise Killed  # the target applied the batch; the run never records its outcomes
            return outcomes

        conn.apply_changes = apply  # type: ignore[method-assign]
    elif point == "after_lookup":
        real_lookup = conn.lookup_people

        def lookup(emails: Any) -> Any:
            found = real_lookup(emails)
            if tick():
                raise Killed
            return found

        conn.lookup_people = lookup  # type: ignore[method-assign]
    else:
        real_create = getattr(conn, "create_people", None)
        if real_create is None:
            return

        def create(drafts: Any) -> Any:
            made = real_create(drafts)
            if tick():
                raise Killed
            return made

        conn.create_people = create  # type: ignore[attr-defined]


def soak(scenarios: int, seed: int, *, progress: bool = False) -> Survived:
    """Run ``scenarios`` scenarios with seeds ``seed, seed+1, …``; raises AssertionError on the first failure."""
    total = Survived()
    with tempfile.TemporaryDirectory(prefix="campaign-bridge-soak-") as tmp:
        bench = Bench(Path(tmp))
        try:
            for n in range(scenarios):
                total.add(Scenario(bench, seed + n, Path(tmp)).run())
                if progress and (n + 1) % 100 == 0:
                    print(f"  {n + 1} scenarios", file=sys.stderr)
        finally:
            bench.close()
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.transport_soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        result = soak(args.scenarios, args.seed, progress=True)
    except AssertionError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(f"survived {result.scenarios} scenarios ({result.runs} runs) in {elapsed:.0f}s, seeds {args.seed}..")
    print("run outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items())))
    print("faults survived: " + ", ".join(f"{k} {v}" for k, v in sorted(result.faults.items()) if v))
    print(
        f"longest single wait: {result.longest_wait:.1f}s (caps: {DEFAULT_MAX_WAIT:.0f}s backoff, "
        f"{MAX_RATE_LIMIT_WAIT:.0f}s when the vendor asks)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
