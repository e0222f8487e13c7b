"""The in-memory HubSpot portal: contacts, lists, tokens, limits and the clock, behind one lock.

Tests and benchmarks seed and inspect it from Python (no HTTP); the route handlers work on the same
objects under ``state.lock``. ``state.clock`` (epoch seconds, settable) stamps every change, so
``createdate``/``lastmodifieddate`` and membership timestamps are under the test's control.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from campaign_bridge.sandbox.hubspot.contacts import Contact, ContactStore
from campaign_bridge.sandbox.hubspot.filters import compile_branch
from campaign_bridge.sandbox.hubspot.limits import Limits
from campaign_bridge.sandbox.hubspot.lists import HubList, ListStore
from campaign_bridge.sandbox.hubspot.search import SearchEngine

OAUTH_TOKEN_SECONDS = 1800
#: The scopes the portal granted the sandbox's apps: what campaign-bridge needs (``token_info.py``).
GRANTED_SCOPES = ("crm.objects.contacts.read", "crm.objects.contacts.write", "crm.lists.read", "crm.lists.write")


@dataclass(slots=True)
class Token:
    kind: str  # "private_app" or "oauth"
    expires_ms: int | None  # None: never (private-app tokens)


class HubSpotState:
    """One portal. Every public method takes ``lock``; so do the HTTP handlers."""

    def __init__(self, *, limits: Limits | None = None, clock: Callable[[], float] | None = None) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = clock or time.time
        self.limits = limits or Limits()
        self.contacts = ContactStore()
        self.lists = ListStore(self.contacts)
        self.search = SearchEngine(self.contacts)
        self.tokens: dict[str, Token] = {}
        self.oauth_client = {"client_id": _uuid(), "client_secret": _uuid()}
        self.refresh_tokens: set[str] = {_uuid()}
        #: Scopes every token of the portal was granted, as the token-info endpoints report them.
        self.scopes: list[str] = list(GRANTED_SCOPES)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ---- contacts ------------------------------------------------------------------------------
    def add_contact(self, email: str, **properties: object) -> str:
        """Create a contact (no API validation; unknown properties become string properties). Its id."""
        with self.lock:
            values = self.contacts.normalise({"email": email, **properties}, define=True)
            return str(self.contacts.create(values, self.now_ms()).id)

    def bulk_add_contacts(self, emails_and_props: Iterable[str | tuple[str, Mapping[str, object]]]) -> list[str]:
        """Seed many contacts fast: items are an email, or ``(email, properties)``. Their ids, in order."""
        rows = ((item, {}) if isinstance(item, str) else item for item in emails_and_props)
        with self.lock:
            return self.contacts.bulk_create(rows, self.now_ms())

    def set_properties(self, contact_id: str, **properties: object) -> None:
        """Change properties (``None`` or ``""`` clears one) and move ``lastmodifieddate`` to now.

        Raises KeyError for an unknown contact."""
        with self.lock:
            contact = self._contact(contact_id)
            values = self.contacts.normalise(properties, define=True)
            self.contacts.update(contact, values, self.now_ms())

    def get_contact(self, contact_id: str) -> dict[str, str]:
        """Every set property of a live contact, computed ones included. Raises KeyError if unknown."""
        with self.lock:
            contact = self._contact(contact_id)
            names = ("hs_object_id", "createdate", "lastmodifieddate", *contact.properties)
            return {name: self.contacts.value(contact, name) or "" for name in names}

    def find_contact(self, email: str) -> str | None:
        with self.lock:
            contact = self.contacts.by_email(email)
            return None if contact is None else str(contact.id)

    def archive_contact(self, contact_id: str) -> None:
        """Delete (archive) a contact. Its list memberships stay until ``drop_deleted_members``."""
        with self.lock:
            self.contacts.archive(self._contact(contact_id), self.now_ms())

    def drop_deleted_members(self) -> None:
        """Run HubSpot's clean-up of deleted contacts now: they leave every list they were in, which
        moves those lists' size and last-removed time (HubSpot does this on its own schedule)."""
        with self.lock:
            self.lists.drop_archived(self.now_ms())

    def define_property(self, name: str, kind: str = "string") -> None:
        """Add a custom contact property (``string number datetime enumeration bool``)."""
        with self.lock:
            self.contacts.schema[name] = kind

    # ---- lists ---------------------------------------------------------------------------------
    def add_list(
        self,
        name: str,
        processing_type: str = "MANUAL",
        *,
        filter_branch: dict[str, Any] | None = None,
        predicate: Callable[[Contact], bool] | None = None,
    ) -> str:
        """Create a list; a DYNAMIC one follows ``predicate`` or ``filter_branch`` when given. Its listId."""
        with self.lock:
            hub_list = self.lists.create(
                name, processing_type, self.now_ms(), filter_branch=filter_branch, predicate=predicate
            )
            if processing_type == "SNAPSHOT":  # populated once from its filters, then static
                rule = predicate or compile_branch(filter_branch, self.contacts)
                if rule is not None:
                    matching = (c.id for c in self.contacts.all() if not c.archived and rule(c))
                    self.lists.seed(hub_list, matching, self.now_ms())
            return str(hub_list.id)

    def add_list_members(self, list_id: str, contact_ids: Iterable[str | int]) -> None:
        """Seed members (any processing type, no checks). Raises KeyError for an unknown list."""
        with self.lock:
            self.lists.seed(self._list(list_id), (int(c) for c in contact_ids), self.now_ms())

    def remove_list_members(self, list_id: str, contact_ids: Iterable[str | int]) -> None:
        with self.lock:
            hub_list = self._list(list_id)
            self.lists.change(hub_list, [], [str(c) for c in contact_ids], self.now_ms())

    def list_members(self, list_id: str) -> set[str]:
        with self.lock:
            return {str(record) for record in self._list(list_id).members}

    def get_list(self, list_id: str) -> HubList:
        """The live list (DYNAMIC ones re-evaluated). Raises KeyError for an unknown or deleted list."""
        with self.lock:
            return self._list(list_id)

    # ---- limits and tokens ---------------------------------------------------------------------
    def set_limits(self, ten_second: int | None = None, daily: int | None = None, search_per_second: int = 5) -> None:
        """Set the per-token ten-second limit and the daily limit (``None``: off); counts restart."""
        self.limits.ten_second, self.limits.daily = ten_second, daily
        self.limits.search_per_second = search_per_second
        self.limits.reset()

    def issue_token(self, kind: str = "private_app") -> str:
        with self.lock:
            if kind == "private_app":
                token, expires = f"pat-na1-{_uuid()}", None
            else:
                token, expires = f"CO{secrets.token_urlsafe(48)}", self.now_ms() + OAUTH_TOKEN_SECONDS * 1000
            self.tokens[token] = Token(kind, expires)
            return token

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now; a refresh issues working ones."""
        with self.lock:
            now = self.now_ms()
            for token in self.tokens.values():
                token.expires_ms = now if token.expires_ms is None else min(token.expires_ms, now)

    def _contact(self, contact_id: str) -> Contact:
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise KeyError(f"no contact {contact_id}")
        return contact

    def _list(self, list_id: str) -> HubList:
        hub_list = self.lists.get(list_id, self.now_ms())
        if hub_list is None:
            raise KeyError(f"no list {list_id}")
        return hub_list


def _uuid() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
