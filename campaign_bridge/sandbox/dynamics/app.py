"""The Dataverse Web API v9.2 (OData v4) as the emulator answers it, and the Entra ID routes beside it.

Checked against api-facts.md §3 / vendor-facts.md (Learn pages named there) and the PowerPlatform-Dataverse-
Client 1.1.0 source, which the tests drive unmodified:

* every ``/api/data/v9.2/`` request needs ``Authorization: Bearer`` with a live token; otherwise 401 with an
  empty body and ``WWW-Authenticate: Bearer authorization_uri=…, resource_id=…``;
* collections answer ``{"@odata.context", "value": […]}``, paged by ``Prefer: odata.maxpagesize`` (default and
  most 5,000; larger values are cut to 5,000) with ``Preference-Applied`` and an absolute ``@odata.nextLink``
  carrying ``$skiptoken=<cookie pagenumber=… pagingcookie=… istracking="False" />``; ``$skip`` is refused;
* creates answer 204 with ``OData-EntityId`` (201 with the record for ``Prefer: return=representation``);
  ``CreateMultiple`` answers ``{"Ids": […]}`` and ``UpsertMultiple`` 204, both all-or-nothing;
* ``AddMemberList`` answers ``AddMemberListResponse`` (``id``: the listmember id; JSON casing [U]);
  ``AddListMembersList`` and ``RemoveMemberList`` answer 204; ``AddItemCampaign`` links a list to a campaign;
  a dynamic or locked list, or a member of another type, is refused 400 ``0x80040203`` ([U] code and words);
* ``EntityDefinitions`` (``$filter=LogicalName eq 'x'``) and the picklist metadata route the SDK reads first;
* ``$batch`` (``batch.py``: multipart/mixed, at most 1,000 requests [D], change sets all-or-nothing [D];
  without ``Prefer: odata.continue-on-error`` it stops at the first failed request [D]);
* errors are ``{"error": {"code": "0x…", "message": …}}``; rate limits per ``limits.py``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, unquote

from ..http import Request, Response, Router
from .auth import EntraId
from .batch import run_batch
from .limits import ServiceProtection
from .odata import QueryError, order_by, parse_fetch, parse_filter, select
from .state import BY_SET, CUSTOMER_PARTY, MEMBER_CODES, TABLES, BusinessError, OrgState, Record, Table, not_found

API = "/api/data/v9.2"
MAX_PAGE = 5000
MAX_BATCH = 1000
_GUID = r"[0-9a-fA-F-]{36}"
_PAGING = re.compile(r'pagenumber="(\d+)"(?:\s+pagingcookie="([^"]*)")?')


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"error": {"code": code, "message": message}}, headers=headers or {})


class DataverseApp:
    """``(Request) -> Response`` for one organisation; ``base_url`` is how clients reach it."""

    def __init__(self, state: OrgState, limits: ServiceProtection, base_url: Callable[[], str]) -> None:
        self.state, self.limits, self.base_url = state, limits, base_url
        self.entra = EntraId(state)
        self.router = Router()
        r = self.router
        r.add("GET", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration", self._openid)
        r.add("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", self._token)
        api = re.escape(API)
        r.add("POST", rf"{api}/\$batch", self._batch)
        self.api = Router()
        a = self.api
        a.add("GET", r"/EntityDefinitions", self._entity_definitions)
        a.add("GET", r"/EntityDefinitions\(LogicalName='(?P<name>\w+)'\)", self._entity_definition)
        a.add(
            "GET",
            r"/EntityDefinitions\(LogicalName='(?P<name>\w+)'\)/Attributes/Microsoft\.Dynamics\.CRM\."
            r"PicklistAttributeMetadata",
            self._picklists,
        )
        a.add("GET", r"/WhoAmI", self._who_am_i)
        a.add(
            "GET",
            rf"/systemusers\((?P<id>{_GUID})\)/Microsoft\.Dynamics\.CRM\.RetrieveUserPrivileges\(\)",
            self._user_privileges,
        )
        a.add("POST", r"/AddListMembersList", self._add_list_members)
        a.add("POST", rf"/lists\((?P<id>{_GUID})\)/Microsoft\.Dynamics\.CRM\.AddMemberList", self._add_member)
        a.add("POST", rf"/lists\((?P<id>{_GUID})\)/Microsoft\.Dynamics\.CRM\.RemoveMemberList", self._remove_member)
        a.add("POST", rf"/campaigns\((?P<id>{_GUID})\)/Microsoft\.Dynamics\.CRM\.AddItemCampaign", self._add_item)
        a.add("POST", r"/(?P<set>\w+)/Microsoft\.Dynamics\.CRM\.CreateMultiple", self._create_multiple)
        a.add("POST", r"/(?P<set>\w+)/Microsoft\.Dynamics\.CRM\.UpsertMultiple", self._upsert_multiple)
        a.add("GET", rf"/(?P<set>\w+)\((?P<id>{_GUID})\)/(?P<nav>\w+)", self._navigate)
        a.add("GET", rf"/(?P<set>\w+)\((?P<id>{_GUID})\)", self._get_one)
        a.add("PATCH", rf"/(?P<set>\w+)\((?P<id>{_GUID})\)", self._update)
        a.add("DELETE", rf"/(?P<set>\w+)\((?P<id>{_GUID})\)", self._delete)
        a.add("GET", r"/(?P<set>\w+)", self._list)
        a.add("POST", r"/(?P<set>\w+)", self._create)

    # -- the door: auth, limits ------------------------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        if not request.path.startswith(API + "/"):
            return self.router.dispatch(request)
        token = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        user = self.state.token_user(token) if token else None
        if user is None:
            tenant = self.state.app.tenant
            challenge = (
                f"Bearer authorization_uri={self.base_url()}/{tenant}/oauth2/authorize, resource_id={self.base_url()}/"
            )
            return Response(401, None, headers={"WWW-Authenticate": challenge})
        refusal = self.limits.admit(user)
        if refusal is not None:
            return error(429, refusal.code, refusal.message, {"Retry-After": str(refusal.retry_after)})
        started = time.perf_counter()
        try:
            response = self._api(request)
        finally:
            headers = self.limits.done(user, (time.perf_counter() - started) * 1000)
        response.headers.update(headers)
        return response

    def _api(self, request: Request) -> Response:
        if request.path == f"{API}/$batch":
            return self.router.dispatch(request)
        inner = Request(request.method, request.path[len(API) :], request.query, request.headers, request.body)
        try:
            if "$skip" in request.query:
                raise QueryError("The query parameter $skip is not supported")
            response = self.api.dispatch(inner)
        except QueryError as exc:
            return error(400, exc.code, str(exc))
        except BusinessError as exc:
            return error(exc.status, exc.code, exc.message)
        except (ValueError, KeyError, TypeError) as exc:
            return error(400, "0x80040203", f"Invalid request: {type(exc).__name__}: {exc}")
        if response.status == 404 and isinstance(response.body, dict) and "path" in response.body:
            return error(404, "0x8006088a", f"Resource not found for the segment '{inner.path.strip('/')}'.")
        response.headers.setdefault("OData-Version", "4.0")
        return response

    def _openid(self, request: Request) -> Response:
        return self.entra.openid_configuration(request, self.base_url())

    def _token(self, request: Request) -> Response:
        return self.entra.token(request, self.base_url())

    # -- metadata ----------------------------------------------------------------------------------------
    def _entity_definitions(self, request: Request) -> Response:
        rows = [_definition(t) for t in TABLES.values()]
        text = request.arg("$filter")
        if text:
            predicate = parse_filter(text, rows[0].keys())
            rows = [r for r in rows if predicate(r)]
        fields = _split(request.arg("$select"))
        rows = [select(r, fields, r.keys(), "MetadataId") for r in rows]
        return Response(200, {"@odata.context": self._context("EntityDefinitions"), "value": rows})

    def _entity_definition(self, request: Request) -> Response:
        table = TABLES.get(request.params["name"])
        if table is None:
            raise BusinessError(404, "0x80060888", f"Could not find an entity with name '{request.params['name']}'.")
        return Response(200, {"@odata.context": self._context("EntityDefinitions/$entity"), **_definition(table)})

    def _picklists(self, request: Request) -> Response:
        name = request.params["name"]
        if name not in TABLES:
            raise BusinessError(404, "0x80060888", f"Could not find an entity with name '{name}'.")
        value: list[Record] = []
        if name == "campaignresponse":
            options = [
                {
                    "Value": v,
                    "Label": {
                        "LocalizedLabels": [{"Label": label, "LanguageCode": 1033}],
                        "UserLocalizedLabel": {"Label": label, "LanguageCode": 1033},
                    },
                }
                for label, v in self.state.response_codes
            ]
            value.append(
                {
                    "LogicalName": "responsecode",
                    "MetadataId": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
                    "OptionSet": {"Options": options},
                }
            )
        return Response(200, {"@odata.context": self._context("EntityDefinitions/Attributes"), "value": value})

    def _who_am_i(self, request: Request) -> Response:
        return Response(
            200,
            {
                "UserId": self.state.app_user,
                "OrganizationId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.state.app.tenant)),
            },
        )

    def _user_privileges(self, request: Request) -> Response:
        """``RetrieveUserPrivileges``: the application user's privileges (``state.privileges``), Global depth."""
        if request.params["id"].lower() != self.state.app_user:
            raise not_found("systemuser", request.params["id"])
        rows = [
            {"Depth": "Global", "PrivilegeId": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "PrivilegeName": name,
             "BusinessUnitId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.state.app.tenant))}
            for name in sorted(self.state.privileges)
        ]  # fmt: skip
        context = self._context("Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse")
        return Response(200, {"@odata.context": context, "RolePrivileges": rows})

    # -- reads -------------------------------------------------------------------------------------------
    def _table(self, entity_set: str) -> Table:
        table = BY_SET.get(entity_set)
        if table is None:
            raise BusinessError(404, "0x80060888", f"Resource not found for the segment '{entity_set}'.")
        return table

    def _list(self, request: Request) -> Response:
        table = self._table(request.params["set"])
        fetch = request.arg("fetchXml")
        if fetch is not None:
            return self._fetch(table, fetch, request)
        with self.state.lock:
            rows = list(self.state.table(table.logical).values())
        return self._collection(table, rows, request, table.entity_set)

    def _navigate(self, request: Request) -> Response:
        table, nav, rid = self._table(request.params["set"]), request.params["nav"], request.params["id"].lower()
        state = self.state
        with state.lock:
            if table.logical == "list" and nav in (
                "listcontact_association",
                "listlead_association",
                "listaccount_association",
            ):
                lst = state.get("list", rid)
                kind = nav.removeprefix("list").removesuffix("_association")
                members = state.static_members(rid) if MEMBER_CODES[lst["createdfromcode"]] == kind else []
                target, rows = TABLES[kind], [state.table(kind)[m] for m in members if m in state.table(kind)]
            elif table.logical == "campaign" and nav == "campaignlist_association":
                target, rows = TABLES["list"], state.lists_of(rid)
            else:
                raise BusinessError(404, "0x8006088a", f"Resource not found for the segment '{nav}'.")
        return self._collection(target, list(rows), request, f"{table.entity_set}({rid})/{nav}")

    def _get_one(self, request: Request) -> Response:
        table = self._table(request.params["set"])
        row = self.state.get(table.logical, request.params["id"])
        body = self._shape(table, row, _split(request.arg("$select")), request.arg("$expand"))
        return Response(200, {"@odata.context": self._context(f"{table.entity_set}/$entity"), **body})

    def _collection(self, table: Table, rows: list[Record], request: Request, path: str) -> Response:
        text = request.arg("$filter")
        if text:
            predicate = parse_filter(text, table.columns, lambda word: self._navigation(table, word))
            rows = [r for r in rows if predicate(r)]
        count = len(rows)
        orderby = request.arg("$orderby")
        top = request.arg("$top")
        page_size = min(_max_page(request.headers.get("prefer", "")), MAX_PAGE)
        if top is not None:
            page_size = min(page_size, int(top))
        token = request.arg("$skiptoken")
        page_number, last = 1, None
        if token:
            m = _PAGING.search(unquote(token))
            if m is None:
                raise QueryError("The $skiptoken is not valid.")
            page_number, last = int(m.group(1)), unquote(m.group(2) or "") or None
        if orderby:
            rows = order_by(rows, orderby, table.columns)[(page_number - 1) * page_size :]
        else:
            rows = sorted(rows, key=lambda r: r[table.primary])
            if last:
                rows = [r for r in rows if r[table.primary] > last]
        page, more = rows[:page_size], len(rows) > page_size and top is None
        fields, expand = _split(request.arg("$select")), request.arg("$expand")
        select({}, fields, table.columns, table.primary)  # an unknown column is refused with no rows too
        body: dict[str, Any] = {
            "@odata.context": self._context(table.entity_set),
            "value": [self._shape(table, r, fields, expand) for r in page],
        }
        if request.arg("$count") == "true":
            body["@odata.count"] = count
        headers: dict[str, str] = {}
        if "odata.maxpagesize" in request.headers.get("prefer", ""):
            headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
        if more:
            cookie = f'<cookie pagenumber="{page_number + 1}" pagingcookie="{quote(page[-1][table.primary])}" istracking="False" />'
            query = {k: v[0] for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = cookie
            encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
            body["@odata.nextLink"] = f"{self.base_url()}{API}/{path}?{encoded}"
        return Response(200, body, headers=headers)

    def _navigation(self, table: Table, word: str) -> Callable[[Record], Any] | None:
        """``regardingobjectid_campaign/<column>`` of a campaign response: its campaign's column."""
        nav, _, col = word.partition("/")
        if (
            table.logical == "campaignresponse"
            and nav == "regardingobjectid_campaign"
            and col in TABLES["campaign"].columns
        ):
            campaigns = self.state.table("campaign")
            return lambda r: (campaigns.get(r.get("_regardingobjectid_value") or "") or {}).get(col)
        return None

    def _fetch(self, table: Table, xml: str, request: Request) -> Response:
        fetch = parse_fetch(xml, lambda name: set(TABLES[name].columns) if name in TABLES else set())
        if fetch.entity != table.logical:
            raise QueryError(f"The entity name '{fetch.entity}' does not match the entity set '{table.entity_set}'.")
        with self.state.lock:
            rows = [r for r in self.state.table(table.logical).values() if fetch.predicate(r)]
        rows.sort(key=lambda r: r[table.primary])
        for col, descending in reversed(fetch.order):
            rows.sort(key=lambda r, c=col: (r.get(c) is None, str(r.get(c) or "").casefold()), reverse=descending)  # type: ignore[misc]
        count = min(fetch.count or MAX_PAGE, MAX_PAGE)
        start = (fetch.page - 1) * count
        page = rows[start : start + count]
        attributes = list(fetch.attributes) or None
        body: dict[str, Any] = {
            "@odata.context": self._context(table.entity_set),
            "value": [select(r, attributes, table.columns, table.primary) for r in page],
        }
        if "include-annotations" in request.headers.get("prefer", ""):
            more = len(rows) > start + count
            body["@Microsoft.Dynamics.CRM.morerecords"] = more
            if more:
                body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"] = (
                    f'<cookie pagenumber="{fetch.page + 1}" pagingcookie="" istracking="False" />'
                )
        return Response(200, body)

    def _shape(self, table: Table, row: Record, fields: list[str] | None, expand: str | None) -> Record:
        out = select(row, fields, table.columns, table.primary)
        for name, sub in _expansions(expand):
            if table.logical == "campaignresponse" and name == "campaignresponse_activity_parties":
                parties = [
                    {
                        "activitypartyid": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{row['activityid']}:{p}")),
                        "_partyid_value": p,
                        "participationtypemask": mask,
                    }
                    for p, _, mask in self.state.parties.get(row["activityid"], [])
                ]
                keys = ("activitypartyid", "_partyid_value", "participationtypemask")
                out[name] = [select(p, sub, keys, "activitypartyid") for p in parties]
            elif table.logical == "campaign" and name == "campaignlist_association":
                lists = TABLES["list"]
                out[name] = [
                    select(r, sub, lists.columns, lists.primary) for r in self.state.lists_of(row["campaignid"])
                ]
            else:
                raise QueryError(
                    f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table.logical}'."
                )
        return out

    # -- writes ------------------------------------------------------------------------------------------
    def _values(self, table: Table, body: Any) -> tuple[Record, dict[str, Any]]:
        """The body's own columns, and its ``@odata.bind`` / deep-insert properties, checked."""
        if not isinstance(body, dict):
            raise QueryError("The request body must be a JSON object.")
        values: Record = {}
        extra: dict[str, Any] = {}
        for key, value in body.items():
            if key.startswith("@odata."):
                continue
            if "@odata.bind" in key or key == "campaignresponse_activity_parties":
                extra[key] = value
            elif key in table.columns and not key.startswith("_") and key != table.primary:
                values[key] = value
            elif key == table.primary:
                extra["id"] = value
            else:
                raise QueryError(
                    f"An undeclared property '{key}' which only has property annotations in the payload but no "
                    "property value was found in the payload."
                )
        return values, extra

    def _create_record(self, table: Table, body: Any) -> str:
        values, extra = self._values(table, body)
        state = self.state
        with state.lock:
            binds = {k.removesuffix("@odata.bind"): v for k, v in extra.items() if k.endswith("@odata.bind")}
            if table.logical == "campaignresponse":
                campaign = binds.pop("regardingobjectid_campaign", None)
                if campaign is None:
                    raise BusinessError(400, "0x80040203", "A campaign response must be regarding a campaign.")
                parties = extra.get("campaignresponse_activity_parties") or []
                party = next((p for p in parties if p.get("participationtypemask") == CUSTOMER_PARTY), None)
                ref = next((v for k, v in (party or {}).items() if k.startswith("partyid_")), None)
                if ref is None:
                    raise BusinessError(
                        400, "0x80040203", "A campaign response needs a customer (participation type 11)."
                    )
                code = values.get("responsecode")
                return state.add_response(
                    _bound_id(campaign), _bound_id(ref), int(code or 0), values.get("subject") or "", by=state.app_user
                )
            lead = binds.pop("originatingleadid", None)
            if lead is not None:
                values["_originatingleadid_value"] = _bound_id(lead)
            linked = binds.pop("campaignlist_association", None)
            if binds:
                raise QueryError(f"An undeclared property '{next(iter(binds))}@odata.bind' was found in the payload.")
            if table.logical == "list":
                if values.get("createdfromcode") not in MEMBER_CODES:
                    raise BusinessError(
                        400, "0x80040203", "createdfromcode must be 1 (account), 2 (contact) or 4 (lead)."
                    )
                if not values.get("listname"):
                    raise BusinessError(400, "0x80040203", "listname is required.")
            rid = state.create(table.logical, values, record_id=extra.get("id"))
            if table.logical == "list" and values.get("type"):
                pass  # a dynamic list: its query decides its members
            for campaign in linked or []:
                state.link(_bound_id(campaign), rid)
            return rid

    def _create(self, request: Request) -> Response:
        table = self._table(request.params["set"])
        rid = self._create_record(table, request.json())
        location = f"{self.base_url()}{API}/{table.entity_set}({rid})"
        if "return=representation" in request.headers.get("prefer", ""):
            body = {
                "@odata.context": self._context(f"{table.entity_set}/$entity"),
                **self.state.get(table.logical, rid),
            }
            return Response(201, body, headers={"OData-EntityId": location})
        return Response(204, None, headers={"OData-EntityId": location})

    def _create_multiple(self, request: Request) -> Response:
        table = self._table(request.params["set"])
        body = request.json()
        targets = body.get("Targets") if isinstance(body, dict) else None
        if not isinstance(targets, list) or not targets:
            raise QueryError("CreateMultiple needs a non-empty Targets collection.")
        with self.state.lock:
            saved = self.state.snapshot()
            try:
                ids = [self._create_record(table, t) for t in targets]
            except (QueryError, BusinessError):
                self.state.restore(saved)  # all or nothing, as the message is
                raise
        return Response(
            200, {"@odata.context": self._context("Microsoft.Dynamics.CRM.CreateMultipleResponse"), "Ids": ids}
        )

    def _upsert_multiple(self, request: Request) -> Response:
        """``UpsertMultiple`` keyed by the primary id (this org defines no alternate keys, so a target keyed by
        ``@odata.id`` with an alternate key is refused): an existing row is updated, a new one created with
        that id; all or nothing."""
        table = self._table(request.params["set"])
        body = request.json()
        targets = body.get("Targets") if isinstance(body, dict) else None
        if not isinstance(targets, list) or not targets:
            raise QueryError("UpsertMultiple needs a non-empty Targets collection.")
        with self.state.lock:
            saved = self.state.snapshot()
            try:
                for target in targets:
                    if "@odata.id" in target:
                        raise BusinessError(400, "0x80060892", f"The key {target['@odata.id']!r} is not defined.")
                    rid = str(target.get(table.primary) or "").lower()
                    row = self.state.table(table.logical).get(rid) if rid else None
                    if row is None:
                        self._create_record(table, target)
                    else:
                        values, _ = self._values(table, target)
                        row.update(values)
                        self.state.touch(row)
            except (QueryError, BusinessError):
                self.state.restore(saved)
                raise
        return Response(204, None)

    def _update(self, request: Request) -> Response:
        table = self._table(request.params["set"])
        values, _ = self._values(table, request.json())
        with self.state.lock:
            row = self.state.get(table.logical, request.params["id"])
            row.update(values)
            self.state.touch(row)
        return Response(204, None)

    def _delete(self, request: Request) -> Response:
        table = self._table(request.params["set"])
        self.state.delete(table.logical, request.params["id"])
        return Response(204, None)

    def _add_member(self, request: Request) -> Response:
        body = request.json() or {}
        entity = str(body.get("EntityId") or "")
        self.state.add_member(request.params["id"], entity, by=self.state.app_user)
        member = self.state.members.get(request.params["id"].lower(), {}).get(entity.lower())
        return Response(
            200, {"@odata.context": self._context("Microsoft.Dynamics.CRM.AddMemberListResponse"), "id": member}
        )

    def _remove_member(self, request: Request) -> Response:
        body = request.json() or {}
        self.state.remove_member(request.params["id"], str(body.get("EntityId") or ""))
        return Response(204, None)

    def _add_list_members(self, request: Request) -> Response:
        body = request.json() or {}
        lst, members = body.get("List") or {}, body.get("Members")
        list_id = str(lst.get("listid") or "")
        if not list_id or not isinstance(members, list):
            raise QueryError("AddListMembersList needs List (with listid) and Members.")
        state = self.state
        with state.lock:
            row = state.get("list", list_id)
            kind = MEMBER_CODES[row["createdfromcode"]]
            ids = []
            for member in members:
                mtype = str(member.get("@odata.type", "")).removeprefix("Microsoft.Dynamics.CRM.")
                mid = member.get(f"{mtype}id") if mtype else None
                if mtype != kind or not mid:
                    raise BusinessError(
                        400,
                        "0x80040203",
                        f"Every member added to this list must be a {kind}; got {mtype or 'no type'}.",
                    )
                if str(mid).lower() not in state.table(kind):
                    raise not_found(kind, str(mid))
                ids.append(str(mid))
            for mid in ids:  # checked whole first: the message adds all or none
                state.add_member(list_id, mid, by=state.app_user)
        return Response(204, None)

    def _add_item(self, request: Request) -> Response:
        body = request.json() or {}
        if body.get("EntityName") != "list":
            raise QueryError("AddItemCampaign here links marketing lists (EntityName 'list').")
        self.state.link(request.params["id"], str(body.get("EntityId") or ""))
        return Response(
            200,
            {
                "@odata.context": self._context("Microsoft.Dynamics.CRM.AddItemCampaignResponse"),
                "CampaignItemId": str(uuid.uuid4()),
            },
        )

    # -- $batch ------------------------------------------------------------------------------------------
    def _batch(self, request: Request) -> Response:
        """``$batch``: see ``batch.py``; every inner request is answered as a request of its own would be."""
        return run_batch(request, self._api, self.state)

    def _context(self, what: str) -> str:
        return f"{self.base_url()}{API}/$metadata#{what}"


def _definition(t: Table) -> Record:
    return {
        "MetadataId": str(uuid.uuid5(uuid.NAMESPACE_URL, t.logical)),
        "LogicalName": t.logical,
        "SchemaName": t.logical.capitalize(),
        "EntitySetName": t.entity_set,
        "PrimaryIdAttribute": t.primary,
        "PrimaryNameAttribute": t.primary_name,
        "LogicalCollectionName": t.entity_set,
    }


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _max_page(prefer: str) -> int:
    m = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    return int(m.group(1)) if m else MAX_PAGE


def _expansions(expand: str | None) -> Iterable[tuple[str, list[str] | None]]:
    if not expand:
        return []
    out: list[tuple[str, list[str] | None]] = []
    for m in re.finditer(r"(\w+)(?:\(([^)]*)\))?", expand):
        options = dict(o.split("=", 1) for o in (m.group(2) or "").split(";") if "=" in o)
        out.append((m.group(1), _split(options.get("$select"))))
    return out


def _bound_id(ref: Any) -> str:
    m = re.search(rf"\(({_GUID})\)", str(ref))
    if m is None:
        raise QueryError(f"The @odata.bind value '{ref}' is not an entity reference.")
    return m.group(1).lower()
