"""Account Engagement (Pardot) API v5 on the connector kit: static and dynamic lists, the prospect's campaign.

No Python client for v5 exists (pypardot4 speaks v3/v4), so the connector speaks v5 with ``requests`` on
the kit. Module map: ``settings`` (business unit, Salesforce login, edition, removal campaign), ``client``
(the call loop, pacing to v5's 5-request cap, paging, the export API), ``errors`` (v5 codes), ``people``
(prospects, identity under AMPSEA, lookups, creation), ``reads``, ``writes``, ``segments``.

Containers: static lists (writable), dynamic lists (read-only sources), and campaigns, an exclusive family:
a prospect has exactly one (``semantics.py``). Connected campaigns carry their Salesforce campaign id.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from campaign_bridge.connectors.base import ConnectionSettings, Connector, MemberOrigin, Watermark, settings_as
from campaign_bridge.connectors.discovery import watch_dates
from campaign_bridge.connectors.pardot import segments
from campaign_bridge.connectors.pardot.client import PardotClient
from campaign_bridge.connectors.pardot.discovery import PardotDiscovery
from campaign_bridge.connectors.pardot.origin import Origins
from campaign_bridge.connectors.pardot.people import People
from campaign_bridge.connectors.pardot.reads import Reader
from campaign_bridge.connectors.pardot.settings import PardotSettings
from campaign_bridge.connectors.pardot.writes import Writer
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
)
from campaign_bridge.mapping.segment import Segment, SegmentField
from campaign_bridge.mapping.semantics import kinds_for, target_refusal

__all__ = ["CONNECTOR", "PardotConnector", "PardotSettings"]

#: The family every campaign of one business unit belongs to: a prospect is in exactly one of them.
CAMPAIGN_FAMILY = "pardot-campaign"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PardotConnector(PardotDiscovery, Connector):
    """One business unit. ``policy``, ``now``, ``monotonic`` and ``sleep`` are injectable for tests."""

    system: ClassVar[str] = "pardot"
    Settings: ClassVar[type[ConnectionSettings]] = PardotSettings
    #: One request per change (v5 has no batch write), ``max_concurrent`` at a time. A batch is where the run
    #: waits for every answer and records outcomes, so few large batches keep the 5 slots busy; a daily
    #: allotment spent mid-batch leaves at most a batch of adds unrecorded (re-sent next day, answered 58).
    write_batch_size: ClassVar[int] = 500
    #: A lookup of many emails reads the prospect index once (``people``), so a large batch costs nothing more.
    lookup_batch_size: ClassVar[int] = 1000
    reads_incrementally: ClassVar[bool] = True
    sees_removals_incrementally: ClassVar[bool] = False
    #: The pacer (in-flight cap), budget, login and index are shared under locks.
    concurrent_calls: ClassVar[bool] = True
    segment_fields: ClassVar[Mapping[str, SegmentField]] = segments.SEGMENT_FIELDS

    def __init__(
        self,
        name: str,
        settings: ConnectionSettings,
        *,
        policy: CallPolicy | None = None,
        now: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        pardot = settings_as(name, settings, PardotSettings)
        super().__init__(name, pardot)
        self.pardot = pardot
        self._now = now
        self.client = PardotClient(
            name, pardot, policy=policy or CallPolicy(sleep=sleep), monotonic=monotonic, sleep=sleep
        )
        watch_dates(self.client.meter)  # the server's clock from every answer, for doctor (no call of its own)
        self.reader = Reader(name, self.client, pardot)
        self.people = People(name, self.client, self.reader)
        self.origins = Origins(self.client)
        self.writer = Writer(self.client, pardot.max_concurrent, lambda: self._campaign_id(pardot.removal_campaign))
        self._campaigns: list[Container] | None = None
        #: Connected campaigns: Pardot campaign id → the Salesforce campaign it mirrors (after ``campaigns``).
        self.connected: dict[str, str] = {}

    # -- containers ----------------------------------------------------------------------------------
    def _lists(self) -> list[Container]:
        pages = self.client.pages("lists", ["id", "name", "isDynamic"], {"orderBy": "id"})
        out = []
        for row in (r for page in pages for r in page):
            kind = ContainerKind.DYNAMIC_LIST if row.get("isDynamic") else ContainerKind.STATIC_LIST
            out.append(
                Container(
                    self.name,
                    str(row["id"]),
                    str(row["name"]),
                    kind,
                    writable=target_refusal(self.system, kind) is None,
                )
            )
        return out

    def campaigns(self) -> list[Container]:
        """Every campaign of the business unit (read once per run)."""
        if self._campaigns is None:
            pages = self.client.pages("campaigns", ["id", "name", "salesforceId"], {"orderBy": "id"})
            rows = [row for page in pages for row in page]
            self.connected = {str(r["id"]): str(r["salesforceId"]) for r in rows if r.get("salesforceId")}
            self._campaigns = [
                Container(
                    self.name,
                    str(row["id"]),
                    str(row["name"]),
                    ContainerKind.EXCLUSIVE_CAMPAIGN,
                    exclusive=True,
                    family=CAMPAIGN_FAMILY,
                )
                for row in rows
            ]
        return list(self._campaigns)

    def list_containers(self) -> Sequence[Container]:
        return [*self._lists(), *self.campaigns()]

    def find_container(self, key: str, name: str) -> Container:
        """Reads only the kind ``key`` names (lists or campaigns): one call for most business units."""
        kinds = {k.kind for k in kinds_for(self.system, key)}
        containers = self.campaigns() if kinds == {ContainerKind.EXCLUSIVE_CAMPAIGN} else self._lists()
        candidates, found = self.named(containers, key, name)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise FatalError(
                f"{self.name}: {len(found)} {key}s are named {name!r} ({', '.join(c.id for c in found)}); name one by id"
            )
        close = difflib.get_close_matches(name, [c.name for c in candidates], n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise FatalError(f"{self.name}: no {key} named {name!r}{hint}")

    def mirrors(self, container: Container) -> str | None:
        """The Salesforce campaign a connected campaign mirrors (Pardot's own connector copies its membership
        there), else None: ``validate`` treats a rule writing it as writing that Salesforce campaign."""
        if container.kind is not ContainerKind.EXCLUSIVE_CAMPAIGN:
            return None
        self.campaigns()
        return self.connected.get(container.id)

    def _campaign_id(self, name_or_id: str | None) -> str | None:
        if name_or_id is None:
            return None
        return self.find_container("campaign", name_or_id).id

    # -- reads ---------------------------------------------------------------------------------------
    def read_members(
        self, container: Container, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        at = since.at if since is not None else None
        if container.kind is ContainerKind.EXCLUSIVE_CAMPAIGN:
            return self.reader.campaign_members(container.id, at, until)
        return self.reader.memberships(container.id, at, until, size=container.size)

    def read_segment(
        self, segment: Segment, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        return segments.read_segment(self.reader, self.name, segment, self._now())

    def lookup_people(self, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        return self.people.lookup(emails)

    def create_people(self, drafts: Sequence[PersonDraft]) -> list[CreateOutcome]:
        campaign = self._campaign_id(self.pardot.new_prospect_campaign)
        return self.people.create(drafts, int(campaign) if campaign else None, self.pardot.max_concurrent)

    def member_origin(self, container: Container, refs: Sequence[RecordRef]) -> dict[str, MemberOrigin]:
        """Members among ``refs``, and whether our integration user created each list membership."""
        return self.origins.of(container, refs)

    # -- writes --------------------------------------------------------------------------------------
    def apply_changes(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        refusal = (
            target_refusal(self.system, container.kind)
            if container.writable
            else (target_refusal(self.system, container.kind) or f"{container.name} cannot be written")
        )
        if refusal is not None:
            raise FatalError(f"{self.name}: {container.name!r} cannot be a target: {refusal}")
        return self.writer.apply(container, changes)

    def usage(self) -> ApiUsage:
        calls, by_endpoint = self.client.budget.counts()
        return ApiUsage(calls=calls, limit=self.pardot.daily_calls, by_endpoint=by_endpoint)

    def close(self) -> None:
        self.client.session.close()


#: Found by ``connectors.registry`` for ``type: pardot``.
CONNECTOR = PardotConnector
