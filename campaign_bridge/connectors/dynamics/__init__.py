"""The Dynamics 365 Sales connector: campaigns and their marketing lists, over the Dataverse Web API.

What Dynamics' words mean here (``mapping/semantics.py``, row ``dynamics``):

* a **campaign** holds no members itself: as a source it is the union of the marketing lists linked to it, and
  a member's status is their strongest campaign response (``Member`` without one);
* a **static list** is writable, unless locked; a **dynamic list** (FetchXML) is read-only; every member of a
  list is of its one type (contact, lead or account);
* a rule targets a static list (``to: {list: L}``) or a campaign and the list to write in it (``to: {campaign:
  C, list: L, status: S}``, ``create_list: true`` to create and link it); ``status`` other than ``Member`` writes
  a campaign response (``writes.py``);
* people are contacts and leads, duplicates allowed; a qualified lead's membership follows its contact.

No change feed is used: a list's members come from a full read (5,000 a page; Dataverse's change tracking
does not cover list membership), and a source campaign or static list whose ``membership_version`` (member
counts, stamps, responses) has not moved is not read again.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from campaign_bridge.connectors.base import ConnectionSettings, Connector, MemberOrigin, Watermark, settings_as
from campaign_bridge.connectors.dynamics import people, reads, segments
from campaign_bridge.connectors.dynamics.client import DataverseClient, Op, entity_id
from campaign_bridge.connectors.dynamics.discovery import DynamicsDiscovery
from campaign_bridge.connectors.dynamics.reads import Campaign
from campaign_bridge.connectors.dynamics.settings import DynamicsSettings
from campaign_bridge.connectors.dynamics.writes import WRITE_BATCH, ListWriter
from campaign_bridge.connectors.kit.pacing import Monotonic, Sleep
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import (
    ApiUsage,
    Change,
    ChangeOutcome,
    Container,
    ContainerKind,
    CreateOutcome,
    MemberRecord,
    PersonDraft,
    PersonRecord,
    RecordRef,
    normalise_email,
)
from campaign_bridge.mapping.segment import Segment, SegmentField
from campaign_bridge.mapping.semantics import target_refusal

__all__ = ["CONNECTOR", "DynamicsConnector", "DynamicsSettings"]

#: Emails per ``lookup_people``: one ``$batch`` of ``In`` queries of 500 addresses, one per person kind (40
#: requests). A ``$batch`` could carry 1,000 such queries (250,000 addresses); 10,000 keeps one answer a few MB.
LOOKUP_BATCH = 10_000
#: An address Dynamics' e-mail format accepts: something@something.tld, no spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: The namespace of the ids of lists a rule creates: a list to create has its id before it exists (a GUID
#: from its campaign, kind and name, which the create sends as ``listid``), so the ledger and the runs that
#: follow know it by the id it will have.
_NEW_LIST = uuid.UUID("6f0c1d2e-3a4b-5c6d-7e8f-90a1b2c3d4e5")


class DynamicsConnector(DynamicsDiscovery, Connector):
    """One Dynamics 365 environment. ``policy``, ``monotonic`` and ``sleep`` are injectable for tests."""

    system: ClassVar[str] = "dynamics"
    Settings: ClassVar[type[ConnectionSettings]] = DynamicsSettings
    write_batch_size: ClassVar[int] = WRITE_BATCH
    lookup_batch_size: ClassVar[int] = LOOKUP_BATCH
    reads_incrementally: ClassVar[bool] = False
    sees_removals_incrementally: ClassVar[bool] = False
    #: The client's pacer, budget, login and session are shared safely; the writer's list states take a lock.
    concurrent_calls: ClassVar[bool] = True
    #: Contact and lead columns a segment can filter on (``segments.SEGMENT_FIELDS``).
    segment_fields: ClassVar[Mapping[str, SegmentField]] = segments.SEGMENT_FIELDS

    def __init__(
        self,
        name: str,
        settings: ConnectionSettings,
        *,
        policy: CallPolicy | None = None,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        d_settings = settings_as(name, settings, DynamicsSettings)
        super().__init__(name, d_settings)
        self.client = DataverseClient(
            name, d_settings, policy=policy or CallPolicy(sleep=sleep), monotonic=monotonic, sleep=sleep
        )
        self.writer = ListWriter(self.client)
        self._campaigns: dict[str, Campaign] = {}  # campaign id, or the id of a list written in it → campaign
        self._lists: dict[str, dict[str, Any]] = {}  # list id → its row
        self._to_create: dict[str, str] = {}  # the id of a list to create (not created yet) → its person kind
        self._lock = threading.Lock()

    # -- containers --------------------------------------------------------------------------------------
    def list_containers(self) -> Sequence[Container]:
        """Every campaign (as a source) and every marketing list."""
        campaigns = reads.find_campaigns(self.client, None)
        for c in campaigns:
            self._remember(c)
        rows = reads.find_lists(self.client, None)
        with self._lock:
            self._lists.update({r["listid"]: r for r in rows})
        return [
            *(reads.campaign_container(self.name, c, None) for c in campaigns),
            *(reads.list_container(self.name, r) for r in rows),
        ]

    def find_container(self, key: str, name: str) -> Container:
        """A campaign (with its lists, statuses and membership version) or a list, by name or id; only what the
        name selects is read. Raises ``FatalError`` naming close matches when there is none, or several."""
        if key == "campaign":
            found = reads.find_campaigns(self.client, name)
            if len(found) == 1:
                self._remember(found[0])
                return reads.campaign_container(self.name, found[0], found[0].responses)
        elif key == "list":
            rows = reads.find_lists(self.client, name)
            if len(rows) == 1:
                with self._lock:
                    self._lists[rows[0]["listid"]] = rows[0]
                return reads.list_container(self.name, rows[0])
        return super().find_container(key, name)

    def find_campaign_list(self, campaign: str, name: str, *, create_as: str | None) -> Container:
        """The list ``name`` linked to ``campaign``, with the campaign's statuses; a list to create on the first
        write when there is none and ``create_as`` names its kind. Raises ``FatalError``."""
        found = reads.find_campaigns(self.client, campaign)
        if len(found) != 1:
            super().find_container("campaign", campaign)  # raises with close matches or the duplicates
            raise FatalError(f"{self.name}: campaign {campaign!r} could not be read with its lists")
        c = found[0]
        self._remember(c)
        lists = [r for r in c.lists if r["listid"] == name.lower()] or [r for r in c.lists if r.get("listname") == name]
        if len(lists) > 1:
            ids = ", ".join(r["listid"] for r in lists)
            raise FatalError(
                f"{self.name}: campaign {campaign!r} has {len(lists)} lists named {name!r} ({ids}); name one by id"
            )
        if lists:
            with self._lock:
                self._lists[lists[0]["listid"]] = lists[0]
                self._campaigns[lists[0]["listid"]] = c
            return reads.list_container(self.name, lists[0], c)
        if create_as is None:
            names = ", ".join(repr(r.get("listname")) for r in c.lists) or "none"
            raise FatalError(
                f"{self.name}: campaign {c.row.get('name')!r} has no list named {name!r} (its lists: {names}); "
                "set create_list: true to create it"
            )
        cid = c.row["campaignid"]
        new_id = str(uuid.uuid5(_NEW_LIST, f"{cid}:{create_as}:{name}"))
        with self._lock:
            self._campaigns[new_id] = c
            self._to_create[new_id] = create_as
        return Container(
            self.name,
            new_id,
            name,
            ContainerKind.STATIC_LIST,
            writable=True,
            has_status=True,
            statuses=reads.statuses(c.codes),
            size=0,
            member_kind=create_as,
        )

    def _remember(self, campaign: Campaign) -> None:
        with self._lock:
            self._campaigns[campaign.row["campaignid"]] = campaign
            for row in campaign.lists:
                self._lists[row["listid"]] = row

    # -- reads -------------------------------------------------------------------------------------------
    def read_members(
        self, container: Container, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        """Every member (a full read; ``since``/``until`` are ignored: no membership feed). A campaign's are its
        lists' with their response status; a list to be created has none yet."""
        if container.id in self._to_create:
            return iter(())  # the list does not exist yet
        if container.kind is ContainerKind.CAMPAIGN:
            campaign = self._campaigns.get(container.id)
            if campaign is None:
                found = reads.find_campaigns(self.client, container.id)
                if not found:
                    raise FatalError(f"{self.name}: campaign {container.name!r} no longer exists")
                campaign = found[0]
            return reads.read_campaign(self.client, campaign)
        row = self._lists.get(container.id)
        if row is None:
            rows = reads.find_lists(self.client, container.id)
            if not rows:
                raise FatalError(f"{self.name}: list {container.name!r} no longer exists")
            row = rows[0]
        return reads.read_list(self.client, row, self._campaigns.get(container.id) if container.has_status else None)

    def read_segment(
        self, segment: Segment, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        """Contacts and leads matching ``segment`` (an OData ``$filter`` per table, ``segments.py``), modified
        in ``[since.at, until]`` when given. Raises ``FatalError``, before any request, for a field Dynamics
        cannot filter on."""
        now = datetime.now(UTC)
        try:
            filters = {kind: segments.table_filter(segment, kind, now) for kind in ("contact", "lead")}
        except FatalError as exc:
            raise FatalError(f"{self.name}: {exc}") from exc
        return people.read_segment(self.client, filters, since.at if since else None, until)

    def lookup_people(self, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        """Contacts and leads by email (case-insensitive, quote-safe), up to 1,000 per call."""
        return people.lookup(self.client, emails)

    def create_people(self, drafts: Sequence[PersonDraft]) -> list[CreateOutcome]:
        """Contacts or leads (by the draft's kind), one ``$batch`` per 1,000; an address that is not one, or a
        record Dynamics refuses, is an outcome with the reason."""
        outcomes: list[CreateOutcome | None] = [None] * len(drafts)
        ops: list[tuple[int, str, Op]] = []
        for i, d in enumerate(drafts):
            kind = d.kind.lower()
            email = normalise_email(d.email)
            if kind not in ("contact", "lead"):
                outcomes[i] = CreateOutcome(
                    d, None, "INVALID_KIND", f"Dynamics people are contacts or leads, not {d.kind!r}"
                )
            elif email is None or not _EMAIL.match(email):
                outcomes[i] = CreateOutcome(d, None, "INVALID_EMAIL", f"{d.email!r} is not an e-mail address")
            else:
                body: dict[str, Any] = {
                    "emailaddress1": d.email.strip(),
                    "lastname": d.last_name or email.split("@")[0],
                }
                if d.first_name:
                    body["firstname"] = d.first_name
                if kind == "lead":
                    body["companyname"] = d.company or None
                    body["subject"] = "campaign-bridge"
                ops.append((i, kind, Op("POST", reads.SETS[kind], body)))
        answers = self.client.batch([op for _, _, op in ops], first=True) if ops else []
        for (i, kind, _), answer in zip(ops, answers, strict=True):
            d = drafts[i]
            rid = entity_id(answer.headers.get("OData-EntityId")) if answer.ok else None
            if rid is None:
                code, message = answer.error()
                outcomes[i] = CreateOutcome(d, None, code, message or "Dynamics did not say the new record's id")
            else:
                outcomes[i] = CreateOutcome(d, PersonRecord(RecordRef(self.name, kind, rid), normalise_email(d.email)))
        return [o for o in outcomes if o is not None]

    def member_origin(self, container: Container, refs: Sequence[RecordRef]) -> dict[str, MemberOrigin]:
        """Which of ``refs`` are members of the list, their status (a campaign's list: their response), and
        whether this integration's application user added them (``listmember`` ``createdby``): one ``$batch``."""
        if container.id in self._to_create or not refs:
            return {}
        campaign = self._campaigns.get(container.id) if container.has_status else None
        me, created, status = reads.member_origins(self.client, container.id, [r.id for r in refs], campaign)
        return {
            rid: MemberOrigin(
                status.get(rid, reads.MEMBER) if campaign is not None else None,
                None if not me or by is None else by == me,
            )
            for rid, by in created.items()
        }

    # -- writes ------------------------------------------------------------------------------------------
    def apply_changes(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        """Add and remove members of a static list (and write campaign responses for a campaign's list).

        Raises ``FatalError``, before any request, for a dynamic or locked list; a change the list cannot take
        (another member type, a status the campaign lacks) is REJECTED with the reason."""
        refusal = target_refusal(self.system, container.kind)
        if refusal is not None or not container.writable:
            why = refusal or container.read_only_reason or "it is read-only"
            raise FatalError(f"{self.name}: list {container.name!r} cannot be written: {why}")
        campaign = self._campaigns.get(container.id) if container.has_status else None
        if container.has_status and campaign is None:
            raise FatalError(f"{self.name}: {container.name!r} was not found through its campaign in this run")
        list_id = self._list_id(container, campaign)
        return self.writer.apply(container, list_id, changes, campaign)

    def _list_id(self, container: Container, campaign: Campaign | None) -> str:
        """The list's id, creating the list first (with that id) when the rule's first write is to it."""
        with self._lock:
            kind = self._to_create.get(container.id)
        if kind is not None:
            assert campaign is not None  # a list to create is always a campaign's
            self.writer.create_list(container.id, container.name, kind, campaign)
            with self._lock:
                self._to_create.pop(container.id, None)
        return container.id

    # -- housekeeping ------------------------------------------------------------------------------------
    def usage(self) -> ApiUsage:
        calls, by_endpoint = self.client.budget.counts()
        return ApiUsage(calls=calls, by_endpoint=by_endpoint)

    def close(self) -> None:
        self.client.close()


#: This package's connector, found by ``connectors.registry`` for ``type: dynamics``.
CONNECTOR = DynamicsConnector
