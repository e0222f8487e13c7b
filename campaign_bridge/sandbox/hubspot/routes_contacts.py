"""CRM v3 contact routes: basic (list, get, create, update, archive), batch (read, create, update, upsert,
archive) and search. Handlers run under ``state.lock`` (see ``app.py``) and raise HubSpotError to answer
with an error envelope.

Batch writes are all-or-nothing on invalid property values (a 400), as HubSpot's are. Unknown ids in
batch read/update answer 207 with an ``OBJECT_NOT_FOUND`` error listing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from campaign_bridge.sandbox.http import Request, Response, Router
from campaign_bridge.sandbox.hubspot.contacts import Contact
from campaign_bridge.sandbox.hubspot.errors import (
    HubSpotError,
    conflict,
    envelope,
    not_found,
    property_errors,
    validation_error,
)
from campaign_bridge.sandbox.hubspot.search import page_body, parse_request
from campaign_bridge.sandbox.hubspot.state import HubSpotState
from campaign_bridge.sandbox.hubspot.values import invalid_value, iso_ms

BASE = "/crm/v3/objects/contacts"
MAX_BATCH, MAX_PAGE, DEFAULT_PAGE = 100, 100, 10
NOT_FOUND_MESSAGE = "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."


def register(router: Router, state: HubSpotState) -> None:
    contacts = state.contacts

    def listing(request: Request) -> Response:
        limit = _int_arg(request, "limit", DEFAULT_PAGE)
        if not 1 <= limit <= MAX_PAGE:
            raise validation_error(f"limit must be between 1 and {MAX_PAGE}.", limit=[str(limit)])
        after = request.arg("after")
        if after and not after.isdigit():
            raise validation_error("after must be a valid paging cursor.", after=[after])
        archived = request.arg("archived", "false") == "true"
        found, next_after = contacts.page(after, limit, archived=archived)
        names = _names(request)
        body: dict[str, Any] = {"results": [contacts.render(c, names) for c in found]}
        if next_after is not None:
            link = f"http://{request.headers.get('host', '127.0.0.1')}{BASE}?limit={limit}&after={next_after}"
            body["paging"] = {"next": {"after": next_after, "link": link}}
        return Response(200, body)

    def get_one(request: Request) -> Response:
        key, id_property = unquote(request.params["contact_id"]), request.arg("idProperty")
        contact = contacts.lookup(key, id_property) if request.arg("archived") != "true" else contacts.get(key)
        if contact is None:
            raise not_found(f"Object not found. objectId are usually numeric. Id: {key}", id=[key])
        return Response(200, contacts.render(contact, _names(request)))

    def create(request: Request) -> Response:
        properties = _validated(state, _object(request).get("properties"))
        email = properties.get("email")
        existing = contacts.by_email(email) if email else None
        if existing is not None:
            raise conflict(str(existing.id))
        contact = contacts.create(properties, state.now_ms())
        return Response(201, contacts.render(contact, [*properties, "email"]))

    def update(request: Request) -> Response:
        key = unquote(request.params["contact_id"])
        contact = contacts.lookup(key, request.arg("idProperty"))
        if contact is None:
            raise not_found(f"Object not found. objectId are usually numeric. Id: {key}", id=[key])
        properties = _validated(state, _object(request).get("properties"))
        _refuse_taken_email(state, properties, contact)
        contacts.update(contact, properties, state.now_ms())
        return Response(200, contacts.render(contact, list(properties)))

    def archive(request: Request) -> Response:
        contact = contacts.get(unquote(request.params["contact_id"]))
        if contact is not None:
            contacts.archive(contact, state.now_ms())
        return Response(204)

    def batch_read(request: Request) -> Response:
        body = _object(request)
        inputs = _inputs(body)
        id_property = body.get("idProperty")
        if body.get("propertiesWithHistory") and len(inputs) > 50:
            raise validation_error(
                "The maximum number of inputs supported in a batch request for property histories is 50"
            )
        started = iso_ms(state.now_ms())
        found: dict[int, Contact] = {}
        missing: list[str] = []
        for item in inputs:
            key = str(item.get("id", ""))
            contact = contacts.lookup(key, id_property)
            if contact is None:
                missing.append(key)
            else:
                found.setdefault(contact.id, contact)
        names = body.get("properties") or None
        return _batch(started, state, [contacts.render(c, names) for c in found.values()], missing, 200)

    def batch_create(request: Request) -> Response:
        inputs = _inputs(_object(request))
        started = iso_ms(state.now_ms())
        prepared = [_validated(state, item.get("properties")) for item in inputs]
        emails = [p["email"].lower() for p in prepared if p.get("email")]
        if len(set(emails)) != len(emails):
            raise validation_error("Duplicate IDs found in batch input: emails must be unique within a batch.")
        for email in emails:
            existing = contacts.by_email(email)
            if existing is not None:
                raise conflict(str(existing.id))
        created = [contacts.create(p, state.now_ms()) for p in prepared]
        rendered = [contacts.render(c, [*p, "email"]) for c, p in zip(created, prepared, strict=True)]
        return _batch(started, state, rendered, [], 201)

    def batch_update(request: Request) -> Response:
        inputs = _inputs(_object(request))
        started = iso_ms(state.now_ms())
        _refuse_duplicates(str(item.get("id", "")) for item in inputs)
        prepared = [_validated(state, item.get("properties")) for item in inputs]
        results, missing = [], []
        for item, properties in zip(inputs, prepared, strict=True):
            key = str(item.get("id", ""))
            contact = contacts.lookup(key, item.get("idProperty"))
            if contact is None:
                missing.append(key)
                continue
            _refuse_taken_email(state, properties, contact)
            contacts.update(contact, properties, state.now_ms())
            results.append(contacts.render(contact, list(properties)))
        return _batch(started, state, results, missing, 200)

    def batch_upsert(request: Request) -> Response:
        inputs = _inputs(_object(request))
        started = iso_ms(state.now_ms())
        _refuse_duplicates(str(item.get("id", "")).lower() for item in inputs)
        prepared = [_validated(state, item.get("properties")) for item in inputs]
        results, missing = [], []
        for item, properties in zip(inputs, prepared, strict=True):
            key, id_property = str(item.get("id", "")), item.get("idProperty")
            contact = contacts.lookup(key, id_property)
            if contact is None and id_property == "email":
                if invalid_value("email", key, contacts.schema):
                    raise property_errors([("email", "INVALID_EMAIL", f"Email address {key} is invalid")])
                contact = contacts.create({**properties, "email": key}, state.now_ms())
                results.append({**contacts.render(contact, [*properties, "email"]), "new": True})
            elif contact is None:
                missing.append(key)
            else:
                contacts.update(contact, properties, state.now_ms())
                results.append({**contacts.render(contact, list(properties)), "new": False})
        return _batch(started, state, results, missing, 200)

    def batch_archive(request: Request) -> Response:
        for item in _inputs(_object(request)):
            contact = contacts.get(str(item.get("id", "")))
            if contact is not None:
                contacts.archive(contact, state.now_ms())
        return Response(204)

    def search(request: Request) -> Response:
        query = parse_request(request.json(), contacts.schema)
        found, total = state.search.run(query)
        rendered = [contacts.render(c, query.properties) for c in found]
        return Response(200, page_body(rendered, total, query.after, query.limit))

    router.add("GET", BASE, listing)
    router.add("POST", BASE, create)
    router.add("POST", f"{BASE}/search", search)
    router.add("POST", f"{BASE}/batch/read", batch_read)
    router.add("POST", f"{BASE}/batch/create", batch_create)
    router.add("POST", f"{BASE}/batch/update", batch_update)
    router.add("POST", f"{BASE}/batch/upsert", batch_upsert)
    router.add("POST", f"{BASE}/batch/archive", batch_archive)
    router.add("GET", f"{BASE}/(?P<contact_id>[^/]+)", get_one)
    router.add("PATCH", f"{BASE}/(?P<contact_id>[^/]+)", update)
    router.add("DELETE", f"{BASE}/(?P<contact_id>[^/]+)", archive)


def _batch(started: str, state: HubSpotState, results: list[Any], missing: Sequence[str], ok: int) -> Response:
    """A BatchResponse: ``ok`` when nothing is missing, else 207 with HubSpot's OBJECT_NOT_FOUND error."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": results}
    status = ok
    if missing:
        status = 207
        error = envelope(NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND", context={"ids": list(missing)})
        error.pop("correlationId")
        body["numErrors"] = 1
        body["errors"] = [error]
    body["startedAt"] = started
    body["completedAt"] = iso_ms(state.now_ms())
    return Response(status, body)


def _validated(state: HubSpotState, raw: Any) -> dict[str, str]:
    """Normalised property values, or the 400 HubSpot sends listing every refused one."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise validation_error("Invalid input JSON: properties must be an object of property names to values")
    schema = state.contacts.schema
    problems = []
    for name, value in raw.items():
        text = "" if value is None else str(value)
        problem = invalid_value(str(name), text, schema)
        if problem is not None:
            problems.append((str(name), *problem))
    if problems:
        raise property_errors(problems)
    return state.contacts.normalise(raw, define=False)


def _refuse_taken_email(state: HubSpotState, properties: Mapping[str, str], contact: Contact) -> None:
    email = properties.get("email")
    if email:
        holder = state.contacts.by_email(email)
        if holder is not None and holder.id != contact.id:
            raise conflict(str(holder.id))


def _refuse_duplicates(keys: Iterable[str]) -> None:
    seen: set[str] = set()
    duplicates = []
    for key in keys:
        if key in seen:
            duplicates.append(key)
        seen.add(key)
    if duplicates:
        raise validation_error(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique")


def _object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected a JSON object")
    return body


def _inputs(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise validation_error("Invalid input JSON: inputs must be a list of objects")
    if len(inputs) > MAX_BATCH:
        raise HubSpotError(
            400,
            envelope(
                f"Batch input limit exceeded: {len(inputs)} inputs sent, the maximum is {MAX_BATCH}.",
                "VALIDATION_ERROR",
            ),
        )
    return inputs


def _names(request: Request) -> list[str] | None:
    names = [n for raw in request.query.get("properties", []) for n in raw.split(",") if n]
    return names or None


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise validation_error(f"{name} must be an integer, not {raw!r}.") from None
