"""What the admin console keeps and reads: users and sessions, the audit log, decisions on held plans,
earlier client files, and the paged reads behind its pages (conflicts, dead letters, held plans).

Nothing secret is stored: a user's password only as an Argon2 hash (hashed by the caller,
``campaign_bridge/console/auth.py``), a session only as the SHA-256 of its cookie.

Pages are read a page at a time, by keyset on indexed columns (``decisions.id`` under the rule/kind
indexes; ``ledger``'s primary key), so a page of a 100,000-row log costs what a page of a 100-row one does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.base import StoreBase, aware
from campaign_bridge.sync.store.states import LedgerState

APPROVED, DISCARDED = "approved", "discarded"
#: Held plans whose parsed summary a store keeps (the console shows one or two at a time).
PARSED_PLANS = 4
#: Ledger states a person must look at (``retry`` requeues them).
DEAD_LETTERS = (LedgerState.DEAD, LedgerState.REJECTED)


def fingerprint(keys: Sequence[str]) -> str:
    """The SHA-256 of a set of person keys (order does not matter)."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    password_hash: str = ""


@dataclass(frozen=True, slots=True)
class HeldPlan:
    """A held sync's plan: its run, when, the removals held (person keys) and their fingerprint, and the
    decision taken on it (None: none yet)."""

    run_id: int
    rule: str
    at: datetime
    summary: dict[str, Any]
    keys: tuple[str, ...]
    fingerprint: str
    decision: str | None
    decided_by: str | None


class ConsoleStore(StoreBase):
    # -- users and sessions ----------------------------------------------------------------------
    def put_user(self, name: str, password_hash: str, role: str, now: datetime) -> None:
        """Create or replace a user (and end their sessions: a new password or role takes effect now)."""
        with self.engine.begin() as conn:
            conn.execute(delete(t.console_users).where(t.console_users.c.name == name))
            conn.execute(delete(t.console_sessions).where(t.console_sessions.c.user == name))
            conn.execute(
                insert(t.console_users).values(name=name, password_hash=password_hash, role=role, created_at=now)
            )

    def remove_user(self, name: str) -> bool:
        """Remove a user and end their sessions; False when there was none of that name."""
        with self.engine.begin() as conn:
            conn.execute(delete(t.console_sessions).where(t.console_sessions.c.user == name))
            return bool(conn.execute(delete(t.console_users).where(t.console_users.c.name == name)).rowcount)

    def user(self, name: str) -> User | None:
        c = t.console_users.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.name, c.role, c.password_hash).where(c.name == name)).first()
        return User(row.name, row.role, row.password_hash) if row else None

    def users(self) -> list[User]:
        c = t.console_users.c
        with self.engine.connect() as conn:
            return [User(r.name, r.role) for r in conn.execute(select(c.name, c.role).order_by(c.name))]

    def start_session(self, token_hash: str, user: str, role: str, now: datetime, expires: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.console_sessions).where(t.console_sessions.c.expires_at < now))
            conn.execute(
                insert(t.console_sessions).values(
                    token_hash=token_hash, user=user, role=role, created_at=now, expires_at=expires
                )
            )

    def session(self, token_hash: str, now: datetime) -> User | None:
        """The user of a live session (None: unknown or expired)."""
        c = t.console_sessions.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.user, c.role, c.expires_at).where(c.token_hash == token_hash)).first()
        if row is None or aware(row.expires_at) < now:
            return None
        return User(row.user, row.role)

    def end_session(self, token_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.console_sessions).where(t.console_sessions.c.token_hash == token_hash))

    # -- the audit log ---------------------------------------------------------------------------
    def audit(
        self, at: datetime, user: str, role: str, action: str, target: str, detail: str, client: str | None = None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.audit_log).values(
                    at=at, user=user, role=role, client=client, action=action, target=target, detail=detail
                )
            )

    def audit_entries(self, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
        c = t.audit_log.c
        q = select(t.audit_log).order_by(c.id.desc()).limit(limit)
        if before is not None:
            q = q.where(c.id < before)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- held plans and their decisions ----------------------------------------------------------------
    def held_plan(self, rule: str, run_id: int | None = None) -> HeldPlan | None:
        """The newest held plan of ``rule`` (or the one of ``run_id``), with the decision taken on it.

        A plan's row never changes once written, so its parsed summary is kept (a few of them) by run id:
        a held plan of 100,000 removals is parsed once, not on every page."""
        p, r, a = t.plans.c, t.runs.c, t.plan_approvals.c
        q = (
            select(p.run_id, r.started_at)
            .join(t.runs, r.id == p.run_id)
            .where(p.rule == rule, p.held.is_(True))
            .order_by(p.run_id.desc())
            .limit(1)
        )
        if run_id is not None:
            q = q.where(p.run_id == run_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
            if row is None:
                return None
            parsed = self._parsed_plans.get(row.run_id)
            if parsed is None:
                summary = dict(conn.execute(select(p.summary).where(p.run_id == row.run_id)).scalar_one())
                keys = tuple(summary.get("held_removals") or ())
                parsed = (summary, keys, fingerprint(keys))
                while len(self._parsed_plans) >= PARSED_PLANS:
                    self._parsed_plans.pop(next(iter(self._parsed_plans)))
                self._parsed_plans[row.run_id] = parsed
            decided = conn.execute(
                select(a.decision, a.decided_by).where(a.run_id == row.run_id).order_by(a.id.desc()).limit(1)
            ).first()
        summary, keys, digest = parsed
        return HeldPlan(
            row.run_id,
            rule,
            aware(row.started_at),
            summary,
            keys,
            digest,
            decided.decision if decided else None,
            decided.decided_by if decided else None,
        )

    @property
    def _parsed_plans(self) -> dict[int, tuple[dict[str, Any], tuple[str, ...], str]]:
        cache: dict[int, tuple[dict[str, Any], tuple[str, ...], str]] | None = self.__dict__.get("_plans_cache")
        if cache is None:
            cache = self.__dict__["_plans_cache"] = {}
        return cache

    def decide_plan(self, plan: HeldPlan, decision: str, by: str, now: datetime) -> int:
        """Record ``decision`` (``APPROVED`` or ``DISCARDED``) on a held plan; the decision's id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(t.plan_approvals).values(
                    run_id=plan.run_id,
                    rule=plan.rule,
                    decision=decision,
                    removals=len(plan.keys),
                    fingerprint=plan.fingerprint,
                    decided_by=by,
                    decided_at=now,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def approved_removals(self, rule: str) -> tuple[int, str, frozenset[str]] | None:
        """The newest approval of ``rule`` not yet used by a run, when it is the newest decision on the newest
        held plan: (its id, who approved, the person keys approved). None otherwise."""
        plan = self.held_plan(rule)
        a = t.plan_approvals.c
        # a plan a later sync went through (the limit raised, the source fixed) is out of date: its approval
        # must not apply removals that happen to fall within it later
        if plan is None or plan.decision != APPROVED or self.superseded(rule, plan.run_id):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(a.id, a.decided_by, a.fingerprint, a.used_by_run)
                .where(a.run_id == plan.run_id)
                .order_by(a.id.desc())
                .limit(1)
            ).first()
        if row is None or row.used_by_run is not None or row.fingerprint != plan.fingerprint:
            return None
        return row.id, row.decided_by, frozenset(plan.keys)

    def use_approval(self, approval_id: int, run_id: int) -> bool:
        """Mark an approval used by ``run_id``; False when another run used it first."""
        a = t.plan_approvals.c
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t.plan_approvals).where(a.id == approval_id, a.used_by_run.is_(None)).values(used_by_run=run_id)
            )
            return bool(done.rowcount)

    def superseded(self, rule: str, run_id: int) -> bool:
        """Whether a sync of ``rule`` after run ``run_id`` went through (``ok``): its held plan is out of date."""
        r = t.runs.c
        with self.engine.connect() as conn:
            later = conn.execute(
                select(func.count())
                .select_from(t.runs)
                .where(r.rule == rule, r.mode == "sync", r.id > run_id, r.status == "ok")
            ).scalar_one()
        return bool(later)

    def undecided_held_plans(self) -> dict[str, int]:
        """Rules whose newest held plan has no decision yet, and no later sync went through: rule → run id."""
        out: dict[str, int] = {}
        p = t.plans.c
        with self.engine.connect() as conn:
            rules = [x for (x,) in conn.execute(select(p.rule).where(p.held.is_(True)).distinct())]
        for rule in rules:
            plan = self.held_plan(rule)
            if plan is not None and plan.decision is None and not self.superseded(rule, plan.run_id):
                out[rule] = plan.run_id
        return out

    # -- client file versions --------------------------------------------------------------------
    def keep_file_version(self, path: str, text: str, by: str, now: datetime) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(t.client_file_versions).values(path=path, saved_at=now, saved_by=by, text=text)
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def file_versions(self, path: str, limit: int = 20) -> list[dict[str, Any]]:
        c = t.client_file_versions.c
        q = select(t.client_file_versions).where(c.path == path).order_by(c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- paged reads -----------------------------------------------------------------------------------
    def conflicts_page(
        self,
        *,
        rule: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """One page of the conflict log, newest first, from just below decision id ``before``."""
        c = t.decisions.c
        q = select(t.decisions).where(c.is_conflict.is_(True)).order_by(c.id.desc()).limit(limit)
        if rule:
            q = q.where(c.rule == rule)
        if kind:
            q = q.where(c.kind == kind)
        if since is not None:
            q = q.where(c.at >= since)
        if until is not None:
            q = q.where(c.at < until)
        if before is not None:
            q = q.where(c.id < before)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def iter_conflicts(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every conflict matching ``filters`` (as ``conflicts_page``), newest first, a page at a time."""
        before: int | None = None
        while True:
            page = self.conflicts_page(**filters, before=before, limit=2000)
            yield from page
            if len(page) < 2000:
                return
            before = page[-1]["id"]

    def dead_letters(self, rule: str, *, after: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """One page of ``rule``'s dead-lettered and rejected items (with the person's email), by person key."""
        c, pc = t.ledger.c, t.persons.c
        q = (
            select(c.person_key, pc.email, c.state, c.attempts, c.last_error, c.written_at, c.target_record_id)
            .join(t.persons, pc.key == c.person_key, isouter=True)
            .where(c.rule == rule, c.state.in_(DEAD_LETTERS))
            .order_by(c.person_key)
            .limit(limit)
        )
        if after is not None:
            q = q.where(c.person_key > after)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def records_of_email(self, email: str) -> dict[str, list[dict[str, Any]]]:
        """The crosswalk's records of the persons with this (normalised) email, by connection."""
        r, pc = t.person_refs.c, t.persons.c
        q = (
            select(r.connection, r.record_id, r.kind, r.state)
            .join(t.persons, pc.key == r.person_key)
            .where(pc.email == email.strip().lower())
            .order_by(r.connection, r.record_id)
        )
        out: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(q):
                out.setdefault(row.connection, []).append(dict(row._mapping))
        return out

    def api_calls_since(self, since: datetime) -> dict[str, int]:
        """API calls per connection by runs started at or after ``since``."""
        r = t.runs.c
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for (calls,) in conn.execute(select(r.api_calls).where(r.started_at >= since)):
                for connection, n in (calls or {}).items():
                    out[connection] = out.get(connection, 0) + int(n)
        return out

    def latest_findings(self, rule: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The newest reconcile run of ``rule`` and its findings."""
        r, f = t.runs.c, t.reconcile_findings.c
        with self.engine.connect() as conn:
            run = conn.execute(
                select(t.runs).where(r.rule == rule, r.mode == "reconcile").order_by(r.id.desc()).limit(1)
            ).first()
            if run is None:
                return None, []
            rows = conn.execute(select(t.reconcile_findings).where(f.run_id == run.id).order_by(f.id)).all()
        return dict(run._mapping), [dict(x._mapping) for x in rows]
