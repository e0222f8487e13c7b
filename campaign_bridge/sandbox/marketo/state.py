"""The in-memory Marketo instance: leads, static and smart lists, programs with their channels' statuses,
activities, export jobs and the API user's credentials, behind one lock.

Tests and benchmarks seed and inspect it from Python (no HTTP); the route handlers work on the same objects
under ``state.lock``. ``state.clock`` (epoch seconds) stamps every change, so ``createdAt``/``updatedAt``,
membership dates and activity dates are under the test's control.

What a program member's status may do follows Marketo's "Sync Program Member Status" page
(AdobeDocs/marketo-developer.en ``help/rest-api/program-members.md``): the status must be one of the
program channel's ``progressionStatuses``; a lead already at that step or past it is skipped with ``1037``
(a status is never moved down a step through the API).
"""

from __future__ import annotations

import bisect
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from campaign_bridge.sandbox.marketo.limits import Limits

#: A token's lifetime (the identity endpoint's ``expires_in``; AdobeDocs authentication.md: 3600 s).
TOKEN_SECONDS = 3600

#: Standard activity type ids (``GET /rest/v1/activities/types.json`` on every instance).
VISIT_WEB_PAGE, FILL_OUT_FORM, CLICK_LINK = 1, 2, 3
SEND_EMAIL, EMAIL_DELIVERED, EMAIL_BOUNCED, UNSUBSCRIBE_EMAIL, OPEN_EMAIL, CLICK_EMAIL = 6, 7, 8, 9, 10, 11
NEW_LEAD, CHANGE_DATA_VALUE, CHANGE_SCORE, EMAIL_BOUNCED_SOFT = 12, 13, 22, 27
ADD_TO_LIST, REMOVE_FROM_LIST = 24, 25
ACTIVITY_TYPES: dict[int, tuple[str, str]] = {
    VISIT_WEB_PAGE: ("Visit Webpage", "Webpage ID"),
    FILL_OUT_FORM: ("Fill Out Form", "Webform ID"),
    CLICK_LINK: ("Click Link", "Link ID"),
    SEND_EMAIL: ("Send Email", "Mailing ID"),
    EMAIL_DELIVERED: ("Email Delivered", "Mailing ID"),
    EMAIL_BOUNCED: ("Email Bounced", "Mailing ID"),
    UNSUBSCRIBE_EMAIL: ("Unsubscribe Email", "Mailing ID"),
    OPEN_EMAIL: ("Open Email", "Mailing ID"),
    CLICK_EMAIL: ("Click Email", "Mailing ID"),
    NEW_LEAD: ("New Lead", "Lead ID"),
    CHANGE_DATA_VALUE: ("Change Data Value", "Field ID"),
    CHANGE_SCORE: ("Change Score", "Field ID"),
    EMAIL_BOUNCED_SOFT: ("Email Bounced Soft", "Mailing ID"),
    ADD_TO_LIST: ("Add to List", "List ID"),
    REMOVE_FROM_LIST: ("Remove from List", "List ID"),
}

#: The channels a new instance has, each with its ordered ``progressionStatuses`` (name, success).
DEFAULT_CHANNELS: dict[str, tuple[tuple[str, bool], ...]] = {
    "Webinar": (("Not in Program", False), ("Invited", False), ("Registered", False), ("Attended", True)),
    "Email Send": (("Not in Program", False), ("Member", False), ("Clicked", True)),
    "Online Advertising": (("Not in Program", False), ("Member", False), ("Engaged", True)),
    "Nurture": (("Not in Program", False), ("Member", False), ("Engaged", True)),
}


@dataclass(slots=True)
class Lead:
    id: int
    fields: dict[str, Any]
    created: float
    updated: float


@dataclass(slots=True)
class StaticList:
    id: int
    name: str
    created: float
    updated: float
    program_name: str | None = None
    members: dict[int, float] = field(default_factory=dict)  # lead id → when added


@dataclass(slots=True)
class SmartList:
    """A smart list: Marketo computes its members from ``rule`` (here: an activity type seen within
    ``days`` days, or a lead field compared with a value)."""

    id: int
    name: str
    created: float
    updated: float
    rule: dict[str, Any]


@dataclass(slots=True)
class Membership:
    status: str
    joined: float
    updated: float
    reached_success: bool


@dataclass(slots=True)
class Program:
    id: int
    name: str
    channel: str
    type: str
    created: float
    updated: float
    members: dict[int, Membership] = field(default_factory=dict)


@dataclass(slots=True)
class SmartCampaign:
    id: int
    name: str
    created: float
    updated: float


@dataclass(slots=True)
class Activity:
    id: int
    lead_id: int
    at: float
    type_id: int
    primary: str
    primary_id: int = 0  # the asset the activity is about (a list's id for Add to List / Remove from List)


@dataclass(slots=True)
class ExportJob:
    id: str
    fields: list[str]
    filter: dict[str, Any]
    status: str
    created: float
    rows: list[list[str]] = field(default_factory=list)
    file_size: int = 0


@dataclass(slots=True)
class Token:
    value: str
    expires: float


class MarketoState:
    """One Marketo instance. Every public method takes ``lock``; so do the HTTP handlers."""

    def __init__(self, *, limits: Limits | None = None, clock: Callable[[], float] | None = None) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = clock or time.time
        self.limits = limits or Limits()
        self.leads: dict[int, Lead] = {}
        self.by_email: dict[str, list[int]] = {}
        self.lists: dict[int, StaticList] = {}
        self.smart_lists: dict[int, SmartList] = {}
        self.programs: dict[int, Program] = {}
        self.smart_campaigns: dict[int, SmartCampaign] = {}
        self.channels: dict[str, tuple[tuple[str, bool], ...]] = dict(DEFAULT_CHANNELS)
        self.activities: list[Activity] = []
        self.exports: dict[str, ExportJob] = {}
        #: Bulk activity extract jobs (``/bulk/v1/activities/export``), apart from the lead extracts.
        self.activity_exports: dict[str, ExportJob] = {}
        #: Bytes of export files produced today (the daily export allowance).
        self.exported_bytes = 0
        self.client = {"client_id": secrets.token_hex(8), "client_secret": secrets.token_urlsafe(24)}
        self.token: Token | None = None
        self._next = {"lead": 1000, "list": 1000, "smart": 5000, "program": 2000, "campaign": 7000, "activity": 1}

    def _id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]

    # ---- tokens -------------------------------------------------------------------------------
    def issue_token(self) -> Token:
        """The current token while it lives (Marketo hands out the same one with its remaining life), else a
        new one."""
        with self.lock:
            now = self.clock()
            if self.token is None or self.token.expires <= now:
                self.token = Token(f"{secrets.token_hex(16)}:ab", now + TOKEN_SECONDS)
            return self.token

    def expire_token(self) -> None:
        """Make the current token expired (as if an hour had passed for it alone)."""
        with self.lock:
            if self.token is not None:
                self.token = Token(self.token.value, self.clock() - 1)

    # ---- leads --------------------------------------------------------------------------------
    def add_lead(self, email: str | None, **fields: Any) -> int:
        """Create a lead (no API validation; a second lead with one email is a duplicate, as Marketo allows
        through ``createDuplicate`` and list imports). Its id."""
        with self.lock:
            now = self.clock()
            lead = Lead(self._id("lead"), {"email": email, **fields}, now, now)
            self.leads[lead.id] = lead
            if email:
                self.by_email.setdefault(email.lower(), []).append(lead.id)
            self.log_activity(lead.id, NEW_LEAD, "", at=now)
            return lead.id

    def update_lead(self, lead_id: int, values: Mapping[str, Any]) -> None:
        with self.lock:
            lead = self.leads[lead_id]
            old = (lead.fields.get("email") or "").lower()
            lead.fields.update(values)
            lead.updated = self.clock()
            new = (lead.fields.get("email") or "").lower()
            if new != old:
                if old:
                    self.by_email[old].remove(lead_id)
                if new:
                    self.by_email.setdefault(new, []).append(lead_id)

    def delete_lead(self, lead_id: int) -> None:
        with self.lock:
            lead = self.leads.pop(lead_id)
            email = (lead.fields.get("email") or "").lower()
            if email:
                self.by_email[email].remove(lead_id)
            for static in self.lists.values():
                static.members.pop(lead_id, None)
            for program in self.programs.values():
                program.members.pop(lead_id, None)

    def log_activity(
        self, lead_id: int, type_id: int, primary: str = "", *, at: float | None = None, primary_id: int = 0
    ) -> int:
        """Record an activity (kept in date order, as the activities API returns them)."""
        with self.lock:
            stamp = self.clock() if at is None else at
            activity = Activity(self._id("activity"), lead_id, stamp, type_id, primary, primary_id)
            bisect.insort(self.activities, activity, key=lambda a: (a.at, a.id))
            return activity.id

    # ---- static and smart lists ---------------------------------------------------------------
    def add_list(self, name: str, program_name: str | None = None) -> int:
        with self.lock:
            now = self.clock()
            static = StaticList(self._id("list"), name, now, now, program_name)
            self.lists[static.id] = static
            return static.id

    def add_list_members(self, list_id: int, lead_ids: Iterable[int]) -> list[int]:
        """Add leads to a static list (as a person or a flow would); each new member logs an Add to List
        activity. The leads that were not members yet."""
        with self.lock:
            static, now, added = self.lists[list_id], self.clock(), []
            for lead_id in lead_ids:
                if lead_id not in static.members:
                    static.members[lead_id] = now
                    self.log_activity(lead_id, ADD_TO_LIST, static.name, at=now, primary_id=list_id)
                    added.append(lead_id)
            static.updated = now
            return added

    def remove_list_members(self, list_id: int, lead_ids: Iterable[int]) -> list[int]:
        """Remove leads from a static list; each member removed logs a Remove from List activity. The leads
        that were members."""
        with self.lock:
            static, now, removed = self.lists[list_id], self.clock(), []
            for lead_id in lead_ids:
                if static.members.pop(lead_id, None) is not None:
                    self.log_activity(lead_id, REMOVE_FROM_LIST, static.name, at=now, primary_id=list_id)
                    removed.append(lead_id)
            static.updated = now
            return removed

    def add_smart_list(self, name: str, rule: dict[str, Any]) -> int:
        """A smart list of leads with activity ``{"activityTypeId": 11, "days": 30}`` or a field rule
        ``{"field": "leadScore", "gte": 50}``."""
        with self.lock:
            now = self.clock()
            smart = SmartList(self._id("smart"), name, now, now, dict(rule))
            self.smart_lists[smart.id] = smart
            return smart.id

    def smart_list_members(self, smart_id: int) -> list[int]:
        """The leads the smart list's rule selects now, by id."""
        with self.lock:
            rule = self.smart_lists[smart_id].rule
            if "activityTypeId" in rule:
                since = self.clock() - float(rule.get("days", 3650)) * 86_400
                found = {a.lead_id for a in self.activities if a.type_id == rule["activityTypeId"] and a.at >= since}
                return sorted(i for i in found if i in self.leads)
            name, floor = rule["field"], rule["gte"]
            return sorted(i for i, lead in self.leads.items() if (lead.fields.get(name) or 0) >= floor)

    # ---- programs -----------------------------------------------------------------------------
    def add_program(self, name: str, channel: str = "Webinar", type: str = "Event") -> int:
        with self.lock:
            if channel not in self.channels:
                raise ValueError(f"no channel {channel!r}")
            now = self.clock()
            program = Program(self._id("program"), name, channel, type, now, now)
            self.programs[program.id] = program
            return program.id

    def add_channel(self, name: str, statuses: Iterable[tuple[str, bool]]) -> None:
        with self.lock:
            self.channels[name] = (("Not in Program", False), *tuple(statuses))

    def steps(self, program: Program) -> dict[str, tuple[int, bool]]:
        """The program's status names (case-folded) → (step, success)."""
        return {name.casefold(): (i, success) for i, (name, success) in enumerate(self.channels[program.channel])}

    def set_member_status(self, program_id: int, lead_id: int, status: str) -> str:
        """Marketo's answer to one status change: ``created``, ``updated`` or ``skipped`` (already at or past
        that step). Raises ``KeyError`` for a status the channel lacks."""
        with self.lock:
            program, now = self.programs[program_id], self.clock()
            step, success = self.steps(program)[status.casefold()]
            label = self.channels[program.channel][step][0]
            member = program.members.get(lead_id)
            if member is None:
                program.members[lead_id] = Membership(label, now, now, success)
                return "created"
            if self.steps(program)[member.status.casefold()][0] >= step:
                return "skipped"
            member.status, member.updated = label, now
            member.reached_success = member.reached_success or success
            return "updated"

    def add_smart_campaign(self, name: str) -> int:
        with self.lock:
            now = self.clock()
            campaign = SmartCampaign(self._id("campaign"), name, now, now)
            self.smart_campaigns[campaign.id] = campaign
            return campaign.id
