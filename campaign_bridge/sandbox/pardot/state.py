"""The emulated business unit: campaigns, static and dynamic lists, prospects, list memberships, visitor
activities, export jobs, the daily API allotment and the concurrent-request cap.

Everything is guarded by ``state.lock`` (re-entrant); helpers take it themselves. Times are aware UTC
datetimes from the injected ``clock``; the cap counts requests in flight, so it is checked by the app
around each request (``enter``/``leave``), not here.

Facts checked (vendor-facts.md "Account Engagement / Pardot API v5", api-facts.md §5):
* [D] every prospect has exactly one campaign (``campaignId``); several prospects may share an email only
  when AMPSEA is on (``ampsea``), each tied to one Salesforce Lead or Contact (``salesforceId``).
* [D] list memberships carry ``optedOut``; a dynamic list's members are computed by Pardot (here: a
  predicate over the prospect, re-evaluated on read), so nobody can add or remove them.
* [D] 5 concurrent requests, a daily allotment per business unit by edition (``EDITION_DAILY_CALLS``).
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

#: The daily API calls of a business unit by edition [D: help.salesforce.com "Account Engagement API Limits"].
EDITION_DAILY_CALLS = {"growth": 25_000, "plus": 50_000, "advanced": 100_000, "premium": 100_000}
#: Requests one business unit may have in flight at once [D].
MAX_CONCURRENT = 5
#: The sandbox business unit's id: 18 characters beginning ``0Uv`` [D].
BUSINESS_UNIT_ID = "0Uv5g000000PARdCAO"
#: The Account Engagement user campaign-bridge's API calls act as, and the one a person in the UI is.
API_USER_ID = 1001
UI_USER_ID = 1002

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Campaign:
    id: int
    name: str
    #: The Salesforce campaign a connected campaign mirrors, else None.
    salesforce_id: str | None = None
    created_at: datetime = field(default_factory=_utc_now)
    updated_at: datetime = field(default_factory=_utc_now)


@dataclass(slots=True)
class Prospect:
    id: int
    email: str
    campaign_id: int
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    score: int = 0
    grade: str | None = None
    salesforce_id: str | None = None  # 00Q… (Lead) or 003… (Contact)
    last_activity_at: datetime | None = None
    opted_out: bool = False
    is_deleted: bool = False
    created_at: datetime = field(default_factory=_utc_now)
    updated_at: datetime = field(default_factory=_utc_now)


@dataclass(slots=True)
class PardotList:
    id: int
    name: str
    is_dynamic: bool = False
    #: A dynamic list's rule (Pardot evaluates it itself); None for a static list.
    rule: Callable[[Prospect], bool] | None = None
    title: str | None = None
    created_at: datetime = field(default_factory=_utc_now)
    updated_at: datetime = field(default_factory=_utc_now)


@dataclass(slots=True)
class Membership:
    id: int
    list_id: int
    prospect_id: int
    opted_out: bool = False
    created_by_id: int = UI_USER_ID
    created_at: datetime = field(default_factory=_utc_now)
    updated_at: datetime = field(default_factory=_utc_now)


@dataclass(slots=True)
class Activity:
    """A visitor activity: ``type`` 1 is a click (an e-mail click when ``email_id`` is set), 4 a form
    success, 11 an e-mail open [U: Pardot's visitor-activity type table]."""

    id: int
    prospect_id: int
    type: int
    created_at: datetime
    email_id: int | None = None
    form_id: int | None = None
    details: str | None = None


@dataclass(slots=True)
class User:
    """An Account Engagement user; ``salesforce_id`` is the Salesforce user it is synced with."""

    id: int
    username: str
    salesforce_id: str | None = None
    created_at: datetime = field(default_factory=_utc_now)


@dataclass(slots=True)
class Export:
    id: int
    object: str
    rows: list[dict[str, Any]]
    fields: list[str]
    created_at: datetime
    polled: bool = False


class PardotState:
    """One business unit. ``daily_limit`` None means no daily limit; ``limits`` switches both the daily
    limit and the concurrent-request cap."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        ampsea: bool = True,
        edition: str = "advanced",
        limits: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.clock: Clock = clock or _utc_now
        self.business_unit_id = BUSINESS_UNIT_ID
        self.ampsea = ampsea
        self.edition = edition
        self.limits = limits
        self.daily_limit: int | None = EDITION_DAILY_CALLS[edition]
        self.usage_day: date | None = None
        self.usage = 0
        self.in_flight = 0
        self.campaigns: dict[int, Campaign] = {}
        self.prospects: dict[int, Prospect] = {}
        self.lists: dict[int, PardotList] = {}
        self.memberships: dict[int, Membership] = {}
        self.activities: dict[int, Activity] = {}
        self.exports: dict[int, Export] = {}
        self.users: dict[int, User] = {}
        self.cursors: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self._by_pair: dict[tuple[int, int], int] = {}  # (list id, prospect id) → membership id
        self.default_campaign = self.add_campaign("Website Tracking")

    def add_user(self, user_id: int, username: str, *, salesforce_id: str | None = None) -> None:
        with self.lock:
            self.users[user_id] = User(user_id, username, salesforce_id, self.now())

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids) + 10_000

    def now(self) -> datetime:
        return self.clock()

    # ---- limits -----------------------------------------------------------------------------------
    def charge(self) -> bool:
        """Count one API call against today's allotment; False when it is spent (code 122)."""
        with self.lock:
            today = self.now().astimezone(UTC).date()
            if self.usage_day != today:
                self.usage_day, self.usage = today, 0
            if self.limits and self.daily_limit is not None and self.usage >= self.daily_limit:
                return False
            self.usage += 1
            return True

    def enter(self) -> bool:
        """Take one of the concurrent-request slots; False when all are taken (code 66)."""
        with self.lock:
            if self.limits and self.in_flight >= MAX_CONCURRENT:
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def new_day(self) -> None:
        """The allotment starts again (the sandbox's stand-in for midnight)."""
        with self.lock:
            self.usage = 0

    # ---- seeding (no HTTP) ------------------------------------------------------------------------
    def add_campaign(self, name: str, *, salesforce_id: str | None = None) -> int:
        with self.lock:
            now = self.now()
            campaign = Campaign(self.next_id(), name, salesforce_id, now, now)
            self.campaigns[campaign.id] = campaign
            return campaign.id

    def add_prospect(self, email: str, *, campaign_id: int | None = None, **fields: Any) -> int:
        """A prospect (AMPSEA permitting a second one with this email). Raises ValueError otherwise."""
        with self.lock:
            if not self.ampsea and self.by_email(email):
                raise ValueError(f"a prospect with email {email!r} exists and AMPSEA is off")
            now = self.now()
            campaign = campaign_id if campaign_id is not None else self.default_campaign
            if campaign not in self.campaigns:
                raise ValueError(f"no campaign {campaign}")
            prospect = Prospect(self.next_id(), email, campaign, created_at=now, updated_at=now, **fields)
            self.prospects[prospect.id] = prospect
            return prospect.id

    def update_prospect(self, prospect_id: int, **fields: Any) -> None:
        with self.lock:
            prospect = self.prospects[prospect_id]
            for name, value in fields.items():
                setattr(prospect, name, value)
            prospect.updated_at = self.now()

    def by_email(self, email: str) -> list[Prospect]:
        folded = email.strip().lower()
        with self.lock:
            return [p for p in self.prospects.values() if not p.is_deleted and p.email.lower() == folded]

    def add_list(self, name: str, *, rule: Callable[[Prospect], bool] | None = None) -> int:
        """A static list, or a dynamic one following ``rule``."""
        with self.lock:
            now = self.now()
            pardot_list = PardotList(self.next_id(), name, rule is not None, rule, name, now, now)
            self.lists[pardot_list.id] = pardot_list
            return pardot_list.id

    def add_member(self, list_id: int, prospect_id: int, *, by: int = UI_USER_ID, opted_out: bool = False) -> int:
        """Add a prospect to a static list (no checks beyond existence); the membership id."""
        with self.lock:
            if (list_id, prospect_id) in self._by_pair:
                return self._by_pair[(list_id, prospect_id)]
            if list_id not in self.lists or prospect_id not in self.prospects:
                raise KeyError(f"no list {list_id} or prospect {prospect_id}")
            now = self.now()
            member = Membership(self.next_id(), list_id, prospect_id, opted_out, by, now, now)
            self.memberships[member.id] = member
            self._by_pair[(list_id, prospect_id)] = member.id
            return member.id

    def remove_member(self, membership_id: int) -> None:
        with self.lock:
            member = self.memberships.pop(membership_id)
            self._by_pair.pop((member.list_id, member.prospect_id), None)

    def membership_of(self, list_id: int, prospect_id: int) -> Membership | None:
        with self.lock:
            found = self._by_pair.get((list_id, prospect_id))
            return None if found is None else self.memberships[found]

    def members(self, list_id: int) -> list[Membership]:
        """A list's memberships; a dynamic list's are computed now (stable ids per prospect)."""
        with self.lock:
            pardot_list = self.lists[list_id]
            if pardot_list.rule is not None:
                rule = pardot_list.rule
                wanted = {p.id for p in self.prospects.values() if not p.is_deleted and rule(p)}
                for pid in wanted:
                    if (list_id, pid) not in self._by_pair:
                        self.add_member(list_id, pid, by=UI_USER_ID)
                for key in [k for k in self._by_pair if k[0] == list_id and k[1] not in wanted]:
                    self.remove_member(self._by_pair[key])
            return [m for m in self.memberships.values() if m.list_id == list_id]

    def add_activity(
        self, prospect_id: int, type_: int, at: datetime, *, email_id: int | None = None, form_id: int | None = None
    ) -> int:
        with self.lock:
            activity = Activity(self.next_id(), prospect_id, type_, at, email_id, form_id)
            self.activities[activity.id] = activity
            prospect = self.prospects[prospect_id]
            if prospect.last_activity_at is None or prospect.last_activity_at < at:
                prospect.last_activity_at = at
            return activity.id

    def bulk_add_prospects(self, emails: list[str], *, campaign_id: int | None = None) -> list[int]:
        """Many prospects at once, for benchmarks (no duplicate check)."""
        with self.lock:
            now = self.now()
            campaign = campaign_id if campaign_id is not None else self.default_campaign
            out = []
            for email in emails:
                prospect = Prospect(self.next_id(), email, campaign, created_at=now, updated_at=now)
                self.prospects[prospect.id] = prospect
                out.append(prospect.id)
            return out

    def new_token(self) -> str:
        return secrets.token_urlsafe(24)
