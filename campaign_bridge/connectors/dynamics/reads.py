"""Reads: campaigns and marketing lists as containers, their members, and who added a member.

* A campaign is found with its linked lists (``$expand=campaignlist_association``) and the campaign response
  codes (the picklist metadata) in one ``$batch``; its statuses are ``Member`` (in a linked list, no response)
  then the response codes in their option order, each a response (``responded``).
* A static list's members are its ``list{contact,lead,account}_association`` (5,000 a page); a dynamic list's are
  its FetchXML ``query``, run with ``page``/``count`` (5,000) until ``morerecords`` is false. A campaign's members
  are the union of its lists'; the first page of every list and of the campaign's responses go in one
  ``$batch``.
* A qualified lead (``statecode`` 1) names its contact as ``converted_to``: the contact whose
  ``originatingleadid`` is the lead (as the Salesforce connector reports ``ConvertedContactId``), so membership
  follows the survivor.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from campaign_bridge.connectors.dynamics.client import PAGE_SIZE, Answer, DataverseClient, Op, in_filter, path, quote
from campaign_bridge.errors import FatalError, TransientError
from campaign_bridge.mapping.model import (
    CampaignDetails,
    Container,
    ContainerKind,
    MemberRecord,
    MemberStatus,
    PersonRecord,
    RecordRef,
    normalise_email,
)

#: ``createdfromcode`` → the person kind of every member of the list [D].
MEMBER_KINDS = {1: "account", 2: "contact", 4: "lead"}
KIND_CODES = {v: k for k, v in MEMBER_KINDS.items()}
PRIMARY = {"contact": "contactid", "lead": "leadid", "account": "accountid"}
SETS = {"contact": "contacts", "lead": "leads", "account": "accounts"}
#: The status of a member of a campaign's list who has no campaign response.
MEMBER = "Member"
LEAD_QUALIFIED = 1
CUSTOMER_PARTY = 11
LIST_COLUMNS = "listid,listname,type,createdfromcode,lockstatus,membercount,modifiedon,query,statecode"
CAMPAIGN_COLUMNS = (
    "campaignid,name,typecode,statuscode,statecode,budgetedcost,totalactualcost,expectedrevenue,proposedstart,"
    "proposedend,modifiedon"
)
RESPONSE_CODES_PATH = (
    "EntityDefinitions(LogicalName='campaignresponse')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    "?$select=LogicalName&$expand=OptionSet($select=Options)"
)
#: Emails per ``In`` filter: 500 addresses keep a GET line near 20 kB, under Dataverse's 32 kB URL limit.
EMAILS_PER_QUERY = 500
PAGE = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
ANNOTATED = {"Prefer": f'odata.maxpagesize={PAGE_SIZE},odata.include-annotations="Microsoft.Dynamics.CRM.*"'}


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign as read: its row, its linked lists' rows and the response codes ((label, value) in order)."""

    row: dict[str, Any]
    lists: list[dict[str, Any]]
    codes: list[tuple[str, int]]
    #: How many responses the campaigns found by name have and the newest one's stamp, when asked.
    responses: tuple[int, str] | None = None


def statuses(codes: Sequence[tuple[str, int]]) -> tuple[MemberStatus, ...]:
    """``Member`` (the default: in a list, no response), then each response code as a responded status."""
    return (
        MemberStatus(MEMBER, responded=False, default=True, rank=0),
        *(MemberStatus(label, responded=True, rank=i + 1) for i, (label, _) in enumerate(codes)),
    )


def response_codes(answer: Answer) -> list[tuple[str, int]]:
    """The ``responsecode`` options (label, value) from the picklist metadata answer."""
    for item in (answer.body or {}).get("value", []):
        if item.get("LogicalName") == "responsecode":
            out = []
            for option in (item.get("OptionSet") or {}).get("Options", []):
                label = ((option.get("Label") or {}).get("UserLocalizedLabel") or {}).get("Label")
                if label:
                    out.append((str(label), int(option["Value"])))
            return out
    return []


def ok(answer: Answer, where: str) -> Answer:
    if not answer.ok:
        code, message = answer.error()
        if answer.status == 429 or answer.status >= 500:
            raise TransientError(f"{where}: Dataverse answered {answer.status} {code}: {message}")
        raise FatalError(f"{where}: Dataverse answered {answer.status} {code}: {message}")
    return answer


def _is_guid(value: str) -> bool:
    parts = value.split("-")
    return len(value) == 36 and [len(p) for p in parts] == [8, 4, 4, 4, 12]


def find_campaigns(client: DataverseClient, name: str | None) -> list[Campaign]:
    """Campaigns named ``name`` (or with that id), or all of them (``None``), with lists and response codes:
    one ``$batch`` (more pages only past 5,000 campaigns)."""
    expand = f"campaignlist_association($select={LIST_COLUMNS})"
    params = {"select": CAMPAIGN_COLUMNS, "expand": expand}
    ops = [Op("GET", path("campaigns", **params), headers=PAGE), Op("GET", RESPONSE_CODES_PATH)]
    if name is not None:
        by_id = _is_guid(name)
        params["filter"] = f"campaignid eq {name.lower()}" if by_id else f"name eq {quote(name)}"
        ops[0] = Op("GET", path("campaigns", **params), headers=PAGE)
        # The responses' count and newest stamp, for the membership version: in the same $batch, by name.
        regarding = (
            f"_regardingobjectid_value eq {name.lower()}"
            if by_id
            else f"regardingobjectid_campaign/name eq {quote(name)}"
        )
        summary = path(
            "campaignresponses", select="activityid,modifiedon", filter=regarding, orderby="modifiedon desc", top="1",
            count="true",
        )  # fmt: skip
        ops.append(Op("GET", summary))
    answers = client.batch(ops)
    where = f"{client.connection}: campaigns"
    found = [row for page in client.pages("campaigns", ok(answers[0], where)) for row in page]
    labels = response_codes(ok(answers[1], where))
    responses = None
    if len(answers) > 2:
        body = ok(answers[2], where).body or {}
        newest = body.get("value") or []
        responses = (int(body.get("@odata.count") or 0), str(newest[0].get("modifiedon") if newest else ""))
    return [Campaign(row, list(row.get("campaignlist_association") or []), labels, responses) for row in found]


def find_lists(client: DataverseClient, name: str | None) -> list[dict[str, Any]]:
    """Marketing lists named ``name`` (or with that id), or all of them."""
    params = {"select": LIST_COLUMNS}
    if name is not None:
        params["filter"] = f"listid eq {name.lower()}" if _is_guid(name) else f"listname eq {quote(name)}"
    return [row for page in client.pages(path("lists", **params)) for row in page]


def campaign_container(connection: str, campaign: Campaign, responses: tuple[int, str] | None) -> Container:
    """A campaign as a source: its members are its lists', its statuses the response codes. Its
    ``membership_version`` moves with any list's count or stamp and the responses' count and newest stamp; a
    dynamic list (computed from other records) leaves it unknown."""
    row = campaign.row
    dynamic = any(lst.get("type") for lst in campaign.lists)
    version = None
    if not dynamic and responses is not None:
        parts = sorted(f"{lst['listid']}:{lst.get('membercount')}:{lst.get('modifiedon')}" for lst in campaign.lists)
        version = hashlib.sha256("|".join([*parts, f"{responses[0]}:{responses[1]}"]).encode()).hexdigest()[:32]
    return Container(
        connection=connection,
        id=row["campaignid"],
        name=row.get("name") or "",
        kind=ContainerKind.CAMPAIGN,
        writable=False,
        has_status=True,
        statuses=statuses(campaign.codes),
        details=CampaignDetails(
            type=str(row.get("typecode")) if row.get("typecode") is not None else None,
            status=str(row.get("statuscode")) if row.get("statuscode") is not None else None,
            active=row.get("statecode") in (0, None),
            start_date=_date(row.get("proposedstart")),
            end_date=_date(row.get("proposedend")),
            budgeted_cost=row.get("budgetedcost"),
            actual_cost=row.get("totalactualcost"),
            expected_revenue=row.get("expectedrevenue"),
        ),
        size=None if dynamic else sum(int(lst.get("membercount") or 0) for lst in campaign.lists),
        membership_version=version,
    )


def list_container(connection: str, row: dict[str, Any], campaign: Campaign | None = None) -> Container:
    """A marketing list: static (writable unless locked) or dynamic; with its campaign's statuses when it is
    the list a rule writes in a campaign."""
    dynamic = bool(row.get("type"))
    locked = bool(row.get("lockstatus"))
    kind = MEMBER_KINDS.get(int(row.get("createdfromcode") or 0))
    return Container(
        connection=connection,
        id=row["listid"],
        name=row.get("listname") or "",
        kind=ContainerKind.DYNAMIC_LIST if dynamic else ContainerKind.STATIC_LIST,
        writable=not dynamic and not locked,
        has_status=campaign is not None,
        statuses=statuses(campaign.codes) if campaign is not None else (),
        size=None if dynamic else int(row.get("membercount") or 0),
        membership_version=None if dynamic else f"{row.get('membercount')}:{row.get('modifiedon')}",
        member_kind=kind,
        read_only_reason="the list is locked (lockstatus: Yes): Dynamics adds no members to it; unlock it or "
        "target another static list"
        if locked and not dynamic
        else None,
    )


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


# -- members -------------------------------------------------------------------------------------------
def list_member_op(row: dict[str, Any]) -> Op:
    """The request for the first page of a list's members: its association, or its FetchXML."""
    kind = MEMBER_KINDS[int(row["createdfromcode"])]
    cols = f"{PRIMARY[kind]},emailaddress1" + (",statecode" if kind == "lead" else "")
    if row.get("type"):
        return Op(
            "GET", path(SETS[kind], fetchXml=paged_fetch(str(row.get("query") or ""), kind, 1)), headers=ANNOTATED
        )
    return Op("GET", path(f"lists({row['listid']})/list{kind}_association", select=cols), headers=PAGE)


def paged_fetch(query: str, kind: str, page: int) -> str:
    """The list's FetchXML with ``page``/``count`` set and the id, email (and a lead's state) selected."""
    try:
        root = ET.fromstring(query)
    except ET.ParseError as exc:
        raise FatalError(f"the dynamic list's query is not valid FetchXML: {exc}") from exc
    entity = root.find("entity")
    if entity is None or entity.get("name") != kind:
        raise FatalError(f"the dynamic list's query does not select {kind} records")
    have = {a.get("name") for a in entity.findall("attribute")}
    for name in (PRIMARY[kind], "emailaddress1", *(["statecode"] if kind == "lead" else [])):
        if name not in have:
            ET.SubElement(entity, "attribute", {"name": name})
    root.set("page", str(page))
    root.set("count", str(PAGE_SIZE))
    return ET.tostring(root, encoding="unicode")


def list_rows(client: DataverseClient, row: dict[str, Any], first: Answer | None = None) -> Iterator[dict[str, Any]]:
    """Every member row of a list (its association or its query), from ``first`` when already read."""
    where = f"{client.connection}: list {row.get('listname')!r}"
    kind = MEMBER_KINDS[int(row["createdfromcode"])]
    if not row.get("type"):
        op = list_member_op(row)
        for page in client.pages(op.path, ok(first, where) if first else None):
            yield from page
        return
    page_no = 1
    answer = ok(first, where) if first else None
    while True:
        if answer is None:
            answer = client.call(
                "GET",
                path(SETS[kind], fetchXml=paged_fetch(str(row.get("query") or ""), kind, page_no)),
                headers=ANNOTATED,
            )
        body = answer.body or {}
        yield from body.get("value") or []
        if not body.get("@Microsoft.Dynamics.CRM.morerecords"):
            return
        page_no, answer = page_no + 1, None


def survivors(client: DataverseClient, lead_ids: Sequence[str]) -> dict[str, str]:
    """Lead id → the contact qualified from it (``originatingleadid``)."""
    out: dict[str, str] = {}
    for i in range(0, len(lead_ids), EMAILS_PER_QUERY):
        chunk = lead_ids[i : i + EMAILS_PER_QUERY]
        q = path("contacts", select="contactid,_originatingleadid_value", filter=in_filter("originatingleadid", chunk))
        for page in client.pages(q):
            for row in page:
                lead = row.get("_originatingleadid_value")
                if lead:
                    out.setdefault(str(lead), str(row["contactid"]))
    return out


def person(connection: str, kind: str, row: dict[str, Any], converted: dict[str, str]) -> PersonRecord:
    rid = str(row[PRIMARY[kind]])
    survivor = converted.get(rid) if kind == "lead" else None
    return PersonRecord(
        RecordRef(connection, kind, rid),
        normalise_email(row.get("emailaddress1")),
        converted_to=RecordRef(connection, "contact", survivor) if survivor else None,
    )


def people(client: DataverseClient, kind: str, rows: Sequence[dict[str, Any]]) -> list[PersonRecord]:
    """The rows as people; a qualified lead with the contact it became."""
    qualified = [str(r["leadid"]) for r in rows if kind == "lead" and r.get("statecode") == LEAD_QUALIFIED]
    converted = survivors(client, qualified) if qualified else {}
    return [person(client.connection, kind, r, converted) for r in rows]


def responses_op(campaign_id: str) -> Op:
    expand = "campaignresponse_activity_parties($select=_partyid_value,participationtypemask)"
    q = path(
        "campaignresponses",
        select="activityid,responsecode",
        filter=f"_regardingobjectid_value eq {campaign_id}",
        expand=expand,
    )
    return Op("GET", q, headers=PAGE)


def best_responses(
    client: DataverseClient, campaign_id: str, codes: Sequence[tuple[str, int]], first: Answer | None = None
) -> dict[str, str]:
    """Each respondent's strongest response to the campaign (latest in the option order), as its label."""
    rank = {value: i for i, (_, value) in enumerate(codes)}
    label = dict((v, lbl) for lbl, v in codes)
    best: dict[str, int] = {}
    where = f"{client.connection}: campaign responses"
    for page in client.pages(responses_op(campaign_id).path, ok(first, where) if first else None):
        for row in page:
            code = row.get("responsecode")
            if code not in rank:
                continue
            for party in row.get("campaignresponse_activity_parties") or []:
                if party.get("participationtypemask") == CUSTOMER_PARTY and party.get("_partyid_value"):
                    who = str(party["_partyid_value"])
                    if who not in best or rank[code] > rank[best[who]]:
                        best[who] = code
    return {who: label[code] for who, code in best.items()}


def read_campaign(client: DataverseClient, campaign: Campaign) -> Iterator[MemberRecord]:
    """Every member of the campaign's lists, once each, with its response status (``Member`` without one)."""
    lists = [lst for lst in campaign.lists if lst.get("createdfromcode") in MEMBER_KINDS]
    cid = campaign.row["campaignid"]
    firsts = client.batch([responses_op(cid), *(list_member_op(lst) for lst in lists)])
    status = best_responses(client, cid, campaign.codes, firsts[0])
    seen: set[str] = set()
    for lst, first in zip(lists, firsts[1:], strict=True):
        yield from _members(client, lst, first, status, seen)


def read_list(client: DataverseClient, row: dict[str, Any], campaign: Campaign | None = None) -> Iterator[MemberRecord]:
    """Every member of one list; with the campaign's response statuses when it is read as a campaign's list."""
    status: dict[str, str] | None = None
    if campaign is not None:
        first, responses = client.batch([list_member_op(row), responses_op(campaign.row["campaignid"])])
        status = best_responses(client, campaign.row["campaignid"], campaign.codes, responses)
    else:
        first = None
    yield from _members(client, row, first, status, set())


def _members(
    client: DataverseClient,
    row: dict[str, Any],
    first: Answer | None,
    status: dict[str, str] | None,
    seen: set[str],
) -> Iterator[MemberRecord]:
    kind = MEMBER_KINDS[int(row["createdfromcode"])]
    batch: list[dict[str, Any]] = []
    for member in list_rows(client, row, first):
        batch.append(member)
        if len(batch) >= PAGE_SIZE:
            yield from _records(client, kind, batch, status, seen)
            batch = []
    yield from _records(client, kind, batch, status, seen)


def _records(
    client: DataverseClient, kind: str, rows: list[dict[str, Any]], status: dict[str, str] | None, seen: set[str]
) -> Iterator[MemberRecord]:
    for p in people(client, kind, rows):
        if p.ref.id in seen:
            continue
        seen.add(p.ref.id)
        yield MemberRecord(p, status=(status.get(p.ref.id, MEMBER) if status is not None else None), tie_id=p.ref.id)


# -- who added a member --------------------------------------------------------------------------------
def member_origins(
    client: DataverseClient, list_id: str, ids: Sequence[str], campaign: Campaign | None
) -> tuple[str, dict[str, str | None], dict[str, str]]:
    """One ``$batch``: the integration's own user (``WhoAmI``), who created each of ``ids``' list memberships
    (``listmember._createdby_value``, 500 ids a query; absent: not a member), and for a campaign's list the
    response statuses."""
    queries = [
        path(
            "listmembers",
            select="_entityid_value,_createdby_value",
            filter=f"_listid_value eq {list_id} and {in_filter('entityid', list(ids[i : i + EMAILS_PER_QUERY]))}",
        )
        for i in range(0, len(ids), EMAILS_PER_QUERY)
    ]
    ops = [Op("GET", "WhoAmI"), *(Op("GET", q, headers=PAGE) for q in queries)]
    if campaign is not None:
        ops.append(responses_op(campaign.row["campaignid"]))
    answers = client.batch(ops)
    where = f"{client.connection}: who added the members"
    me = str((ok(answers[0], where).body or {}).get("UserId") or "")
    created: dict[str, str | None] = {}
    for q, answer in zip(queries, answers[1 : 1 + len(queries)], strict=True):
        for page in client.pages(q, ok(answer, where)):
            for row in page:
                created[str(row["_entityid_value"])] = row.get("_createdby_value")
    status = best_responses(client, campaign.row["campaignid"], campaign.codes, answers[-1]) if campaign else {}
    return me, created, status
