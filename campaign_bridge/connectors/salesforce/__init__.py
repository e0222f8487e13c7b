"""The Salesforce connector: campaigns and their members (Leads and Contacts), over simple-salesforce.

Layout: ``settings`` (the connection's config), ``auth`` (login flows), ``client`` (session, budget,
``Sforce-Limit-Info``, retries and the error table applied in one place), ``errors`` (the table),
``soql`` and ``segments`` (escaping, builders, segment translation), ``reads``, ``writes``
(sObject Collections), ``bulk`` (Bulk API 2.0) and ``costs`` (which of REST and Bulk costs fewer calls,
or the connection's pinned ``bulk_threshold``).

Everything raises only the tree of ``campaign_bridge.errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import requests

from campaign_bridge.connectors.base import (
    Clock,
    ConnectionSettings,
    Connector,
    MemberOrigin,
    SupportsBulkApply,
    Watermark,
    settings_as,
    uses_bulk,
)
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.connectors.salesforce import bulk, reads, segments, writes
from campaign_bridge.connectors.salesforce.client import ORG_RESERVE_FRACTION, SalesforceClient
from campaign_bridge.connectors.salesforce.costs import BulkChoice
from campaign_bridge.connectors.salesforce.discovery import SalesforceDiscovery
from campaign_bridge.connectors.salesforce.settings import SalesforceSettings
from campaign_bridge.connectors.salesforce.soql import soql_quote
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
from campaign_bridge.mapping.semantics import kinds_for

__all__ = [
    "CONNECTOR",
    "ORG_RESERVE_FRACTION",
    "SalesforceConnector",
    "SalesforceSettings",
    "SupportsBulkApply",
    "soql_quote",
]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SalesforceConnector(SalesforceDiscovery, Connector):
    """A Salesforce org. Parts are passed in for tests: ``policy`` (retries; inject a no-op sleep),
    ``session`` (a ``requests.Session`` whose adapters are wrapped, never replaced), ``clock`` (segment
    windows such as ``within: 30d``) and ``bulk_poll_seconds`` (Bulk API job polling interval)."""

    system = "salesforce"
    Settings: ClassVar[type[ConnectionSettings]] = SalesforceSettings
    write_batch_size = writes.COLLECTION_LIMIT
    lookup_batch_size = 200
    reads_incrementally = True
    sees_removals_incrementally = True
    #: The client's one login is locked and its counters lock themselves (``client.SalesforceClient``), so
    #: the engine may look people up in one thread while a Bulk job runs in another.
    concurrent_calls: ClassVar[bool] = True
    #: Changes per ``apply_bulk`` call when the engine writes in bulk: one chunk is at most three ingest
    #: jobs (well under a job's 150 MB upload); the engine renews its lease and may stop between chunks.
    bulk_batch_size: ClassVar[int] = 100_000
    #: Lead and Contact fields a segment can filter on (``segments.SEGMENT_FIELDS``).
    segment_fields: ClassVar[Mapping[str, SegmentField]] = segments.SEGMENT_FIELDS

    def __init__(
        self,
        name: str,
        settings: ConnectionSettings,
        *,
        policy: CallPolicy | None = None,
        session: requests.Session | None = None,
        clock: Clock = _utcnow,
        bulk_poll_seconds: float = bulk.DEFAULT_POLL_SECONDS,
    ) -> None:
        sf_settings = settings_as(name, settings, SalesforceSettings)
        super().__init__(name, sf_settings)
        self.settings: SalesforceSettings = sf_settings
        self.client = SalesforceClient(name, sf_settings, policy=policy, session=session)
        self.clock: Callable[[], datetime] = clock
        self.bulk_poll_seconds = bulk_poll_seconds
        self.bulk_choice = BulkChoice(sf_settings.bulk_threshold)

    def list_containers(self) -> Sequence[Container]:
        """Every campaign, with its statuses ordered by SortOrder (one query: statuses in a subquery)."""
        return reads.list_campaigns(self.client, self.name)

    def find_container(self, key: str, name: str) -> Container:
        """The campaign a rule names by id (15 or 18 characters) or exact name, with its statuses and its
        member count (``size``): one query for that campaign rather than a listing of all. Raises
        ``FatalError`` as the base does (a miss lists the campaigns, one more query, to name the close
        matches)."""
        if ContainerKind.CAMPAIGN in {k.kind for k in kinds_for(self.system, key)}:
            found = reads.find_campaigns(self.client, self.name, name)
            exact = [c for c in found if name in (c.id, c.id[:15])] or [c for c in found if c.name == name]
            if len(exact) == 1:
                return exact[0]
        return super().find_container(key, name)

    def read_members(
        self, container: Container, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        """Campaign members: full (``query``) or since a watermark (``queryAll``, removals flagged); through
        one Bulk API 2.0 query job instead when that costs fewer calls (or past a pinned
        ``settings.bulk_threshold``). A full read decides up front from the campaign's ``size``."""
        return reads.read_members(
            self.client,
            self.name,
            container.id,
            since,
            until,
            choice=self.bulk_choice,
            size=container.size,
            bulk_poll_seconds=self.bulk_poll_seconds,
        )

    def read_segment(
        self, segment: Segment, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        """Leads and Contacts matching ``segment``; see ``segments`` for the field map. Raises
        ``FatalError`` for fields Salesforce cannot filter on."""
        return reads.read_segment(self.client, self.name, segment, self.clock(), since, until)

    def lookup_people(self, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        """Contacts and Leads by email (two queries per ``lookup_batch_size`` emails)."""
        return reads.lookup_people(self.client, self.name, emails, self.lookup_batch_size)

    def create_people(self, drafts: Sequence[PersonDraft]) -> list[CreateOutcome]:
        """New Leads (required LastName/Company default to ``[not provided]``), one outcome per draft."""
        return writes.create_people(self.client, self.name, drafts)

    def member_origin(self, container: Container, refs: Sequence[RecordRef]) -> dict[str, MemberOrigin]:
        """Which of ``refs`` are campaign members, their status, and whether this integration's user added
        them (``CampaignMember.CreatedById``): one query. Unknown (None) with a bare session id."""
        found = writes.find_members(self.client, container.id, refs)
        me = self.client.login.user_id
        return {
            record_id: MemberOrigin(m.status, None if me is None or m.created_by is None else m.created_by == me)
            for record_id, m in found.items()
        }

    def apply_changes(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        """Adds, status changes and removals through Collections, ``write_batch_size`` a call; where
        ``writer_for`` routes this many changes to Bulk (more than ``bulk_threshold``), through one Bulk
        API 2.0 job per operation instead, so a direct caller sending a large plan gets the cheaper way too."""
        if uses_bulk(self, len(changes)):
            return self.apply_bulk(container, changes)
        outcomes: list[ChangeOutcome] = []
        for start in range(0, len(changes), self.write_batch_size):
            outcomes += writes.apply_changes(
                self.client, container.id, changes[start : start + self.write_batch_size], container
            )
        return outcomes

    @property
    def bulk_threshold(self) -> int:
        """Above this many changes the engine writes through ``apply_bulk``: a pinned
        ``settings.bulk_threshold``, else (``"auto"``) the count above which one ingest job costs fewer calls
        than Collections (``costs.write_break_even``)."""
        return self.bulk_choice.write_threshold

    def apply_bulk(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        """``apply_changes`` through Bulk API 2.0 ingest jobs (see ``bulk``); ``SupportsBulkApply``."""
        return bulk.apply_bulk(
            self.client, container.id, changes, self.bulk_poll_seconds, size=container.size, campaign=container
        )

    def usage(self) -> ApiUsage:
        """Calls made (every HTTP attempt) and the org's ``Sforce-Limit-Info`` counters."""
        return self.client.usage()

    def close(self) -> None:
        self.client.close()


#: This package's connector, found by ``connectors.registry`` for ``type: salesforce``.
CONNECTOR = SalesforceConnector
