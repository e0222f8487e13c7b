"""The emulated Dataverse organisation: its tables, the app registration that may call it, and its clocks.

Tables hold records in their Web API shape (lookups as ``_x_value``), so a query answers them as stored.
What is emulated, with the source checked (see also ``reference/api-facts.md`` §3 and ``vendor-facts.md``):

* ``list`` [D: Marketing List table reference]: ``type`` false static / true dynamic (FetchXML in ``query``),
  ``createdfromcode`` 1 account / 2 contact / 4 lead, never changed; ``lockstatus`` true: "no additional members
  can be added"; ``membercount`` kept by the platform (and with it ``modifiedon``: [U] that a member change
  bumps the list's ``modifiedon``, as any update of ``membercount`` does).
* ``listmember`` [D]: one row per (list, member); every member is of the list's type [D: AddListMembersList
  "Notes for callers"]; adding a member twice keeps one row ([U]: checked in no real org here).
* ``campaign`` and its N:N ``campaignlist_association`` [D].
* ``campaignresponse`` [D: activity; ``responsecode`` option set 1 Interested, 2 Not Interested, 3 Do Not Send
  Marketing Materials, 4 Error; ``regardingobjectid`` the campaign; the respondent in the activity party list
  ``campaignresponse_activity_parties`` as participation type 11, Customer].
* ``contact.originatingleadid`` [D]: the lead a contact was qualified from; a qualified lead has ``statecode`` 1.
* duplicate emails are creatable [D-recall: the Web API skips duplicate detection unless asked].
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Record = dict[str, Any]

#: ``createdfromcode`` of a marketing list: the one type of record its members are.
MEMBER_CODES = {1: "account", 2: "contact", 4: "lead"}
CODE_OF = {v: k for k, v in MEMBER_CODES.items()}
#: The campaign response ``responsecode`` option set as a new org has it (label, value).
RESPONSE_CODES = (("Interested", 1), ("Not Interested", 2), ("Do Not Send Marketing Materials", 3), ("Error", 4))
#: Activity party participation type of a campaign response's respondent.
CUSTOMER_PARTY = 11
#: The user a person in Dynamics works as (seeded records, members added by hand): not the integration.
PERSON_USER = "0e6f1a2b-0000-4000-8000-00000000a11c"
#: Lead ``statecode``: Open, Qualified, Disqualified.
LEAD_OPEN, LEAD_QUALIFIED = 0, 1


@dataclass(frozen=True, slots=True)
class Table:
    """One entity: its logical name, entity set (the URL segment), primary id and columns."""

    logical: str
    entity_set: str
    primary: str
    columns: tuple[str, ...]
    primary_name: str = "name"


TABLES = {
    t.logical: t
    for t in (
        Table(
            "contact",
            "contacts",
            "contactid",
            (
                "contactid",
                "firstname",
                "lastname",
                "fullname",
                "emailaddress1",
                "statecode",
                "_originatingleadid_value",
                "address1_country",
                "_ownerid_value",
                "createdon",
                "modifiedon",
            ),
            "fullname",
        ),
        Table(
            "lead",
            "leads",
            "leadid",
            (
                "leadid",
                "firstname",
                "lastname",
                "fullname",
                "companyname",
                "subject",
                "emailaddress1",
                "statecode",
                "address1_country",
                "_ownerid_value",
                "createdon",
                "modifiedon",
            ),
            "fullname",
        ),
        Table("account", "accounts", "accountid", ("accountid", "name", "emailaddress1", "createdon", "modifiedon")),
        Table(
            "list",
            "lists",
            "listid",
            (
                "listid",
                "listname",
                "type",
                "createdfromcode",
                "query",
                "lockstatus",
                "statecode",
                "membercount",
                "createdon",
                "modifiedon",
            ),
            "listname",
        ),
        Table(
            "campaign",
            "campaigns",
            "campaignid",
            (
                "campaignid",
                "name",
                "codename",
                "typecode",
                "statuscode",
                "statecode",
                "budgetedcost",
                "totalactualcost",
                "expectedrevenue",
                "proposedstart",
                "proposedend",
                "createdon",
                "modifiedon",
            ),
        ),
        Table(
            "campaignresponse",
            "campaignresponses",
            "activityid",
            (
                "activityid",
                "subject",
                "responsecode",
                "_regardingobjectid_value",
                "_createdby_value",
                "createdon",
                "modifiedon",
            ),
            "subject",
        ),
        Table(
            "listmember",
            "listmembers",
            "listmemberid",
            (
                "listmemberid",
                "_listid_value",
                "_entityid_value",
                "entitytype",
                "_createdby_value",
                "createdon",
                "modifiedon",
            ),
            "listmemberid",
        ),
    )
}
BY_SET = {t.entity_set: t for t in TABLES.values()}


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BusinessError(Exception):
    """A request Dataverse refuses for a business rule: status, hex code and message as it answers."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(table: str, record_id: str) -> BusinessError:
    return BusinessError(404, "0x80040217", f"{table} With Id = {record_id} Does Not Exist")


@dataclass
class App:
    """The app registration the integration signs in as: a client secret and a certificate."""

    tenant: str
    client_id: str
    client_secret: str
    certificate_pem: bytes = b""
    thumbprint: str = ""


@dataclass
class OrgState:
    """One organisation. Every method takes the lock: the server is threaded."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    monotonic: Callable[[], float] = time.monotonic
    rows: dict[str, dict[str, Record]] = field(default_factory=lambda: {name: {} for name in TABLES})
    #: campaign id → ids of the lists linked to it
    campaign_lists: dict[str, list[str]] = field(default_factory=dict)
    #: campaign response id → its activity parties ((party id, entity logical name, participation type))
    parties: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    #: list id → member id → listmember id (an index of the listmember table)
    members: dict[str, dict[str, str]] = field(default_factory=dict)
    response_codes: tuple[tuple[str, int], ...] = RESPONSE_CODES
    app: App = field(default_factory=lambda: App(str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4().hex))
    #: The application user's privileges (``RetrieveUserPrivileges``): all the integration needs by default.
    privileges: set[str] = field(
        default_factory=lambda: {
            f"prv{access}{table}"
            for access in ("Read", "Write", "Create", "Append", "AppendTo")
            for table in ("Contact", "Lead", "List", "Campaign", "Activity")
        }
    )
    #: access token → (client id, monotonic expiry)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- generic rows ------------------------------------------------------------------------------------
    def table(self, logical: str) -> dict[str, Record]:
        return self.rows[logical]

    def create(self, logical: str, values: Record, *, record_id: str | None = None) -> str:
        """A new row with ``values`` (its own columns only, as a Web API POST would have checked)."""
        with self.lock:
            t = TABLES[logical]
            rid = (record_id or str(uuid.uuid4())).lower()
            if rid in self.rows[logical]:  # [U] code and status of a create with an id already taken
                raise BusinessError(400, "0x80040237", f"A record with matching key values already exists ({rid}).")
            now = _stamp(self.clock())
            row: Record = dict.fromkeys(t.columns)
            row.update(values)
            row[t.primary], row["createdon"], row["modifiedon"] = rid, row.get("createdon") or now, now
            if logical in ("contact", "lead"):
                row["_ownerid_value"] = row.get("_ownerid_value") or PERSON_USER
                row["fullname"] = " ".join(p for p in (row.get("firstname"), row.get("lastname")) if p) or None
                row["statecode"] = row.get("statecode") or 0
            if logical == "list":
                row["membercount"] = 0
                row["statecode"] = row.get("statecode") or 0
                row["lockstatus"] = bool(row.get("lockstatus"))
                row["type"] = bool(row.get("type"))
            self.rows[logical][rid] = row
            return rid

    def get(self, logical: str, record_id: str) -> Record:
        with self.lock:
            row = self.rows[logical].get(record_id.lower())
            if row is None:
                raise not_found(logical, record_id)
            return row

    def delete(self, logical: str, record_id: str) -> None:
        """Delete a row as Dynamics does: a person leaves every list and every activity party list it was in
        ([U] that a deleted respondent's activity party goes, the response staying)."""
        with self.lock:
            rid = record_id.lower()
            self.get(logical, rid)
            del self.rows[logical][rid]
            for lid, members in list(self.members.items()):
                if rid in members:
                    self.remove_member(lid, rid)
            for activity, parties in self.parties.items():
                self.parties[activity] = [p for p in parties if p[0] != rid]

    def touch(self, row: Record) -> None:
        row["modifiedon"] = _stamp(self.clock())

    # -- people ------------------------------------------------------------------------------------------
    def add_contact(self, email: str | None, first: str = "", last: str = "Doe", **extra: Any) -> str:
        return self.create("contact", {"emailaddress1": email, "firstname": first or None, "lastname": last, **extra})

    def add_lead(self, email: str | None, first: str = "", last: str = "Doe", company: str = "", **extra: Any) -> str:
        values = {"emailaddress1": email, "firstname": first or None, "lastname": last, "companyname": company or None}
        return self.create("lead", {**values, **extra})

    def qualify_lead(self, lead_id: str) -> str:
        """Qualify a lead as Dynamics does: the lead becomes Qualified and a contact is created from it."""
        with self.lock:
            lead = self.get("lead", lead_id)
            lead["statecode"] = LEAD_QUALIFIED
            self.touch(lead)
            return self.add_contact(
                lead["emailaddress1"], lead.get("firstname") or "", lead["lastname"], _originatingleadid_value=lead_id
            )

    # -- campaigns and lists -----------------------------------------------------------------------------
    def add_campaign(self, name: str, **extra: Any) -> str:
        with self.lock:
            cid = self.create("campaign", {"name": name, "typecode": 5, "statuscode": 0, "statecode": 0, **extra})
            self.campaign_lists[cid] = []
            return cid

    def add_list(
        self,
        name: str,
        member_type: str = "contact",
        *,
        query: str | None = None,
        locked: bool = False,
        campaign: str | None = None,
    ) -> str:
        """A marketing list: static, or dynamic when it has a FetchXML ``query``; linked to ``campaign``."""
        with self.lock:
            values = {
                "listname": name,
                "createdfromcode": CODE_OF[member_type],
                "type": query is not None,
                "query": query,
                "lockstatus": locked,
            }
            lid = self.create("list", values)
            if campaign is not None:
                self.link(campaign, lid)
            return lid

    def link(self, campaign_id: str, list_id: str) -> None:
        """``AddItemCampaign`` / ``campaignlist_association``: link a list to a campaign (once)."""
        with self.lock:
            self.get("campaign", campaign_id)
            self.get("list", list_id)
            linked = self.campaign_lists.setdefault(campaign_id.lower(), [])
            if list_id.lower() not in linked:
                linked.append(list_id.lower())

    def lists_of(self, campaign_id: str) -> list[Record]:
        with self.lock:
            self.get("campaign", campaign_id)
            return [self.rows["list"][lid] for lid in self.campaign_lists.get(campaign_id.lower(), [])]

    def member_rows(self, list_id: str) -> Iterator[Record]:
        rows = self.rows["listmember"]
        return (rows[m] for m in list(self.members.get(list_id.lower(), {}).values()))

    @property
    def app_user(self) -> str:
        """The application user the app registration works as (``WhoAmI``'s ``UserId``)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.app.client_id))

    def add_member(self, list_id: str, entity_id: str, *, check_lock: bool = True, by: str = PERSON_USER) -> bool:
        """Add one member as ``AddMemberList`` does, as user ``by``; False when it was a member already.

        Raises ``BusinessError`` for a dynamic or locked list, or a record not of the list's type."""
        with self.lock:
            lst = self.get("list", list_id)
            if lst["type"]:
                raise BusinessError(400, "0x80040203", "Members cannot be added to a dynamic marketing list.")
            if check_lock and lst["lockstatus"]:
                raise BusinessError(400, "0x80040203", "The marketing list is locked; no members can be added.")
            kind = MEMBER_CODES[lst["createdfromcode"]]
            if not any(entity_id.lower() in self.rows[k] for k in MEMBER_CODES.values()):
                raise not_found(kind, entity_id)
            if entity_id.lower() not in self.rows[kind]:
                raise BusinessError(
                    400, "0x80040203", f"The member {entity_id} is not a {kind}: every member of this list is a {kind}"
                )
            index = self.members.setdefault(lst["listid"], {})
            if entity_id.lower() in index:
                return False
            index[entity_id.lower()] = self.create(
                "listmember",
                {
                    "_listid_value": lst["listid"],
                    "_entityid_value": entity_id.lower(),
                    "entitytype": kind,
                    "_createdby_value": by,
                },
            )
            lst["membercount"] += 1
            self.touch(lst)
            return True

    def remove_member(self, list_id: str, entity_id: str) -> bool:
        with self.lock:
            lst = self.get("list", list_id)
            if lst["type"]:
                raise BusinessError(400, "0x80040203", "Members cannot be removed from a dynamic marketing list.")
            member = self.members.get(lst["listid"], {}).pop(entity_id.lower(), None)
            if member is None:
                return False
            del self.rows["listmember"][member]
            lst["membercount"] -= 1
            self.touch(lst)
            return True

    def static_members(self, list_id: str) -> list[str]:
        with self.lock:
            return [m["_entityid_value"] for m in self.member_rows(list_id)]

    # -- campaign responses ------------------------------------------------------------------------------
    def code_label(self, value: int) -> str | None:
        return next((label for label, v in self.response_codes if v == value), None)

    def add_response(
        self, campaign_id: str, party_id: str, code: int, subject: str = "Response", *, by: str = PERSON_USER
    ) -> str:
        """A campaign response from ``party_id`` (a contact or lead) regarding the campaign."""
        with self.lock:
            self.get("campaign", campaign_id)
            if self.code_label(code) is None:
                raise BusinessError(400, "0x8004431a", f"{code} is not a valid value for the responsecode attribute")
            kind = next((k for k in ("contact", "lead", "account") if party_id.lower() in self.rows[k]), None)
            if kind is None:
                raise not_found("contact", party_id)
            rid = self.create(
                "campaignresponse",
                {
                    "subject": subject,
                    "responsecode": code,
                    "_regardingobjectid_value": campaign_id.lower(),
                    "_createdby_value": by,
                },
            )
            self.parties[rid] = [(party_id.lower(), kind, CUSTOMER_PARTY)]
            return rid

    def responses_of(self, campaign_id: str) -> dict[str, int]:
        """Each respondent's strongest response code (highest option value) for the campaign."""
        with self.lock:
            best: dict[str, int] = {}
            for r in self.rows["campaignresponse"].values():
                if r["_regardingobjectid_value"] != campaign_id.lower():
                    continue
                for party, _, mask in self.parties.get(r["activityid"], []):
                    if mask == CUSTOMER_PARTY:
                        best[party] = max(best.get(party, 0), int(r["responsecode"] or 0))
            return best

    # -- tokens ------------------------------------------------------------------------------------------
    def issue_token(self, client_id: str, lifetime: float = 3599.0) -> str:
        with self.lock:
            token = "eyJ0eXAiOiJKV1Qi." + uuid.uuid4().hex + uuid.uuid4().hex
            self.tokens[token] = (client_id, self.monotonic() + lifetime)
            return token

    def token_user(self, token: str) -> str | None:
        """The client a live token was issued to; None for an unknown or expired token."""
        with self.lock:
            found = self.tokens.get(token)
            if found is None or found[1] <= self.monotonic():
                return None
            return found[0]

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = {t: (c, float("-inf")) for t, (c, _) in self.tokens.items()}

    # -- saving --------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy({"rows": self.rows, "campaign_lists": self.campaign_lists, "parties": self.parties})

    def restore(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.rows = {name: dict(data["rows"].get(name, {})) for name in TABLES}
            self.campaign_lists = {k: list(v) for k, v in data["campaign_lists"].items()}
            self.parties = {k: [(p[0], p[1], int(p[2])) for p in v] for k, v in data["parties"].items()}
            self.members = {}
            for m in self.rows["listmember"].values():
                self.members.setdefault(m["_listid_value"], {})[m["_entityid_value"]] = m["listmemberid"]


def ago(now: datetime, days: float) -> str:
    return _stamp(now - timedelta(days=days))
