"""The emulated org: its records (see ``store``), users' sessions, the daily API allocation, and helpers
that seed data without HTTP.

Everything is guarded by one re-entrant lock (``state.lock``); helpers take it themselves. Helpers go
through the same validation as the API (``dml``) and raise ``RecordError`` when the org would refuse,
except the ``bulk_*`` fast paths, which check their inputs up front and raise ``ValueError``.
"""

from __future__ import annotations

import gc
import secrets
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from . import dml
from .errors import ApiError, RecordError
from .ids import checksum
from .query import BoundQuery
from .schema import ObjectDef, object_def
from .store import Clock, Record, Store

UNLIMITED_REPORTED_MAX = 5_000_000  # what Sforce-Limit-Info reports as the allocation when none is set
MAX_OPEN_CURSORS = 50  # query locators kept; the oldest is dropped first (Salesforce keeps a handful per user)


@dataclass(slots=True)
class Cursor:
    """A query's rows, computed once; queryMore slices them."""

    locator: str
    rows: list[Record]
    render: BoundQuery  # shapes each row
    version: str
    include_deleted: bool
    batch_size: int


@dataclass(slots=True)
class Credentials:
    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str
    jwt_private_key_pem: str
    jwt_public_key_pem: str


class SalesforceState(Store):
    """One org. ``clock`` (a callable returning an aware datetime) stamps every change."""

    def __init__(self, *, daily_limit: int | None = None, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.org_id = "00D5g000000Cbr1" + checksum("00D5g000000Cbr1")
        self.daily_limit = daily_limit
        self.api_usage = 0
        self._sessions: dict[str, bool] = {}
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        user = self.insert(
            _obj("User"),
            {
                "Username": "admin@campaign-bridge.sandbox",
                "Name": "Sandbox Admin",
                "Email": "admin@example.com",
                "IsActive": True,
            },
        )
        self.user_id: str = user["Id"]
        self.default_owner = self.user_id
        person = self.insert(
            _obj("User"),
            {"Username": "marketing@campaign-bridge.sandbox", "Name": "Marketing Ops", "IsActive": True},
        )
        self.person_id = person["Id"]  # who the sandbox's own edits (a person in the UI) are made by
        self.credentials = _make_credentials()
        #: Object name → permissions the integration user lacks, as describe reports them (``access.py``).
        self.revoked: dict[str, set[str]] = {}

    # ---- sessions and limits -----------------------------------------------------------------------

    def issue_session(self) -> str:
        """A new bearer token for the sandbox user."""
        token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(48)}"
        with self.lock:
            self._sessions[token] = True
        return token

    def session_valid(self, token: str | None) -> bool:
        with self.lock:
            return token is not None and self._sessions.get(token, False)

    def expire_sessions(self) -> None:
        """Every session issued so far now answers 401 INVALID_SESSION_ID (new logins work)."""
        with self.lock:
            for token in self._sessions:
                self._sessions[token] = False

    def set_daily_limit(self, limit: int | None) -> None:
        """The daily API allocation; None means no limit (``Sforce-Limit-Info`` then reports a large max)."""
        with self.lock:
            self.daily_limit = limit

    def reset_usage(self) -> None:
        """A new day: the API request count starts again at zero."""
        with self.lock:
            self.api_usage = 0

    @property
    def usage_max(self) -> int:
        return self.daily_limit if self.daily_limit is not None else UNLIMITED_REPORTED_MAX

    def charge_request(self) -> None:
        """Count one API request, or raise ApiError 403 REQUEST_LIMIT_EXCEEDED when the allocation is spent."""
        with self.lock:
            if self.daily_limit is not None and self.api_usage >= self.daily_limit:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", with_fields=False)
            self.api_usage += 1

    def limit_info(self) -> str:
        return f"api-usage={self.api_usage}/{self.usage_max}"

    def remember_cursor(self, cursor: Cursor) -> None:
        with self.lock:
            self.cursors[cursor.locator] = cursor
            while len(self.cursors) > MAX_OPEN_CURSORS:
                self.cursors.popitem(last=False)

    # ---- seeding helpers ---------------------------------------------------------------------------

    def create(self, sobject: str, **fields: Any) -> str:
        """Create any record through the org's validation; returns its id. Raises RecordError."""
        with self.lock:
            return str(dml.create(self, _obj(sobject), _jsonish(fields))["Id"])

    def update(self, record_id: str, **fields: Any) -> None:
        """Update a record through the org's validation. Raises RecordError."""
        with self.lock:
            dml.update(self, None, record_id, _jsonish(fields))

    def delete(self, record_id: str) -> None:
        """Delete a record (to the recycle bin: queryAll still sees it). Raises RecordError."""
        with self.lock:
            dml.delete(self, record_id)

    def add_campaign(
        self,
        name: str,
        *,
        type: str = "Webinar",
        status: str = "In Progress",
        statuses: list[tuple[str, bool]] | None = None,
        **fields: Any,
    ) -> str:
        """A campaign with member statuses ``statuses`` ((label, responded), first is the default;
        None → Sent, Responded). Active unless ``IsActive=False`` is passed."""
        values = {"Name": name, "Type": type, "Status": status, "IsActive": True, **fields}
        with self.lock:
            return str(dml.create(self, _obj("Campaign"), _jsonish(values), member_statuses=statuses)["Id"])

    def add_contact(self, email: str | None, *, first_name: str = "", last_name: str = "Doe", **fields: Any) -> str:
        values = {"Email": email, "FirstName": first_name or None, "LastName": last_name, **fields}
        return self.create("Contact", **values)

    def add_lead(
        self,
        email: str | None,
        *,
        first_name: str = "",
        last_name: str = "Doe",
        company: str = "Acme",
        status: str = dml.DEFAULT_LEAD_STATUS,
        **fields: Any,
    ) -> str:
        values = {
            "Email": email,
            "FirstName": first_name or None,
            "LastName": last_name,
            "Company": company,
            "Status": status,
            **fields,
        }
        return self.create("Lead", **values)

    def set_last_activity(self, lead_or_contact_id: str, day: date | None) -> None:
        """Set a Lead's or Contact's ``LastActivityDate``, which the API cannot write (Salesforce derives it
        from tasks and events, which the sandbox does not model). Raises RecordError for an unknown id."""
        with self.lock:
            found = self.record(lead_or_contact_id)
            if found is None or found[0].name not in ("Lead", "Contact") or found[1]["IsDeleted"]:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", f"no live Lead or Contact {lead_or_contact_id}")
            obj, rec = found
            self.modify(obj, rec, {"LastActivityDate": day})

    def add_account(self, name: str, **fields: Any) -> str:
        return self.create("Account", Name=name, **fields)

    def add_opportunity(self, name: str, stage: str, close_date: date | str, **fields: Any) -> str:
        return self.create("Opportunity", Name=name, StageName=stage, CloseDate=close_date, **fields)

    def add_contact_role(self, opportunity_id: str, contact_id: str, role: str | None = None) -> str:
        return self.create("OpportunityContactRole", OpportunityId=opportunity_id, ContactId=contact_id, Role=role)

    def add_member(self, campaign_id: str, lead_or_contact_id: str, status: str | None = None) -> str:
        """Add a lead or contact to a campaign (default status when None). Raises RecordError."""
        person = "LeadId" if lead_or_contact_id.startswith("00Q") else "ContactId"
        return self.create("CampaignMember", CampaignId=campaign_id, Status=status, **{person: lead_or_contact_id})

    def set_member_status(self, member_id: str, status: str) -> None:
        self.update(member_id, Status=status)

    def remove_member(self, member_id: str) -> None:
        """Delete a campaign member: IsDeleted=true, still visible to queryAll."""
        self.delete(member_id)

    def convert_lead(self, lead_id: str, contact_id: str | None = None) -> str:
        """Convert a lead (into ``contact_id`` or a new contact); returns the contact id."""
        with self.lock:
            return dml.convert_lead(self, lead_id, contact_id)

    def members(self, campaign_id: str) -> dict[str, str]:
        """``{lead_or_contact_id: status}`` of the campaign's live members."""
        with self.lock:
            table = self.tables["CampaignMember"]
            out: dict[str, str] = {}
            for member_id in self.lookup("CampaignMember", "CampaignId", campaign_id):
                m = table[member_id]
                if not m["IsDeleted"]:
                    out[m.get("ContactId") or m["LeadId"]] = m["Status"]
            return out

    def get(self, record_id: str) -> dict[str, Any] | None:
        """A copy of a record, computed fields included (deleted ones too), or None."""
        with self.lock:
            found = self.record(record_id)
            if found is None:
                return None
            obj, rec = found
            return {f.name: self.accessor(obj, f)(rec) for f in obj.fields}

    def bulk_add_contacts(self, emails: list[str | None], *, last_name: str = "Doe") -> list[str]:
        """Seed many contacts at once (no per-record validation); returns their ids in order."""
        with self.lock, _collector_paused():
            rows: list[Record] = [{"Email": e, "LastName": last_name, "OwnerId": self.user_id} for e in emails]
            return self.insert_many(_obj("Contact"), rows)

    def bulk_add_leads(self, emails: list[str | None], *, last_name: str = "Doe", company: str = "Acme") -> list[str]:
        """Seed many open leads at once; returns their ids in order."""
        with self.lock, _collector_paused():
            rows: list[Record] = [
                {
                    "Email": e,
                    "LastName": last_name,
                    "Company": company,
                    "Status": dml.DEFAULT_LEAD_STATUS,
                    "IsConverted": False,
                    "OwnerId": self.user_id,
                }
                for e in emails
            ]
            return self.insert_many(_obj("Lead"), rows)

    def bulk_add_members(self, campaign_id: str, ids: list[str], status: str | None = None) -> None:
        """Seed many members of one campaign at once (the benchmark path).

        Raises ValueError, adding nothing, if the campaign is unknown, the status is not one of its
        labels, an id is not a live lead or contact, or a person is listed twice or already a member.
        """
        with self.lock:
            if self.live("Campaign", campaign_id) is None:
                raise ValueError(f"no live campaign {campaign_id}")
            info = self.statuses(campaign_id)
            label = status if status is not None else info.default
            if label not in info.responded:
                raise ValueError(f"{label!r} is not a member status of campaign {campaign_id}")
            if len(set(ids)) != len(ids):
                raise ValueError("a person is listed twice")
            extra: Record = {"CampaignId": campaign_id, "Status": label}
            if info.responded[label]:
                extra["FirstRespondedDate"] = self.now().date()
            members = self.tables["CampaignMember"]
            current: set[str] = set()  # the campaign's live members, as lead and contact ids
            for member_id in self.lookup("CampaignMember", "CampaignId", campaign_id):
                member = members[member_id]
                if not member["IsDeleted"]:
                    current.update(i for i in (member.get("LeadId"), member.get("ContactId")) if i)
            for table_name in ("Lead", "Contact"):
                table = self.tables[table_name]
                prefix = _obj(table_name).prefix
                people = {p for p in ids if p[:3] == prefix}
                if not people <= table.keys() or any(table[p]["IsDeleted"] for p in people):
                    raise ValueError(f"not every {table_name} id names a live {table_name}")
                if not people.isdisjoint(current):
                    raise ValueError(f"a {table_name} is already a member of campaign {campaign_id}")
            if any(p[:3] not in ("00Q", "003") for p in ids):
                raise ValueError("every id must be a lead (00Q) or a contact (003)")
            with _collector_paused():
                rows = [{("LeadId" if p[:3] == "00Q" else "ContactId"): p, **extra} for p in ids]
                self.insert_many(_obj("CampaignMember"), rows)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while seeding: creating a million dicts otherwise triggers
    full collections that rescan every record already stored (seconds, for nothing: records hold no cycles)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _obj(name: str) -> ObjectDef:
    found = object_def(name)
    if found is None:
        raise RecordError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return found


def _jsonish(fields: dict[str, Any]) -> dict[str, Any]:
    """Helper arguments may be Python dates/datetimes; the DML layer takes what JSON would carry."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        out[name] = value.isoformat() if isinstance(value, date) else value  # datetimes are dates too
    return out


@cache
def _jwt_key_pair() -> tuple[str, str]:
    """An RSA key pair for the JWT bearer flow, generated once per process (2048-bit generation is slow)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def _make_credentials() -> Credentials:
    private_pem, public_pem = _jwt_key_pair()
    return Credentials(
        client_id="3MVG9" + secrets.token_urlsafe(32).replace("-", "x").replace("_", "y"),
        client_secret=secrets.token_hex(32).upper(),
        username="admin@campaign-bridge.sandbox",
        password="sandbox-Passw0rd",
        security_token=secrets.token_urlsafe(18).replace("-", "x").replace("_", "y"),
        jwt_private_key_pem=private_pem,
        jwt_public_key_pem=public_pem,
    )
