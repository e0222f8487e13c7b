"""The HubSpot connector: contact lists as audiences, contact searches as behaviour segments.

Through hubspot-api-client (CRM v3 contacts, Lists v3). What HubSpot's words mean here:

* a MANUAL or SNAPSHOT list is a writable static list; a DYNAMIC list is read-only (HubSpot computes it);
  a HubSpot "campaign" groups assets and has no members, so it is never a container;
* there is no membership change feed, so ``read_members`` is always a full read (``reads_incrementally``
  is False) and sees removals by absence;
* a behaviour segment (form submitted, bounces, inactivity, score) is a contact search (``search.py``).

Every request goes through ``client.HubSpotClient``: one ``CallPolicy``, pacing below the portal's
10-second limit and search's per-second limit, the run's ``ApiBudget``, and the error table of
``errors.py``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, ClassVar

from campaign_bridge.connectors.base import ConnectionSettings, Connector, Watermark, settings_as
from campaign_bridge.connectors.hubspot import contacts, lists, search
from campaign_bridge.connectors.hubspot.client import HubSpotClient
from campaign_bridge.connectors.hubspot.discovery import HubSpotDiscovery
from campaign_bridge.connectors.hubspot.pacing import Monotonic, Sleep
from campaign_bridge.connectors.hubspot.settings import HubSpotSettings
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import (
    ApiUsage,
    Change,
    ChangeAction,
    ChangeOutcome,
    Container,
    CreateOutcome,
    MemberRecord,
    OutcomeState,
    PersonDraft,
    PersonRecord,
    RecordRef,
)
from campaign_bridge.mapping.segment import Segment, SegmentField
from campaign_bridge.mapping.semantics import target_refusal

__all__ = ["CONNECTOR", "HubSpotConnector", "HubSpotSettings"]


#: A list read's batch reads go out this many at a time…
READ_THREADS = 2
#: …and at most this many wait to be used.
READ_AHEAD = 4


def _utc_now() -> datetime:
    return datetime.now(UTC)


class HubSpotConnector(HubSpotDiscovery, Connector):
    """One HubSpot portal. ``policy``, ``now``, ``monotonic`` and ``sleep`` are injectable for tests."""

    system: ClassVar[str] = "hubspot"
    Settings: ClassVar[type[ConnectionSettings]] = HubSpotSettings
    #: Record ids per memberships write (HubSpot's lists guide: 100,000 per request).
    write_batch_size: ClassVar[int] = lists.MEMBERSHIP_BATCH
    lookup_batch_size: ClassVar[int] = contacts.BATCH_SIZE
    reads_incrementally: ClassVar[bool] = False
    sees_removals_incrementally: ClassVar[bool] = False
    #: ``HubSpotClient`` shares its pacer, budget and token between threads under locks.
    concurrent_calls: ClassVar[bool] = True
    #: Contact properties a segment can search (``search.PROPERTIES``); ``*`` is refused in ``contains``.
    segment_fields: ClassVar[Mapping[str, SegmentField]] = search.SEGMENT_FIELDS

    def __init__(
        self,
        name: str,
        settings: ConnectionSettings,
        *,
        policy: CallPolicy | None = None,
        now: Callable[[], datetime] = _utc_now,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        hs_settings = settings_as(name, settings, HubSpotSettings)
        super().__init__(name, hs_settings)
        self._now = now
        self.client = HubSpotClient(
            name, hs_settings, policy=policy or CallPolicy(sleep=sleep), clock=monotonic, sleep=sleep
        )

    # -- containers ----------------------------------------------------------------------------------
    def list_containers(self) -> Sequence[Container]:
        """Every contact list of the portal (lists search, all pages)."""
        return self._containers(lists.all_lists(self.client))

    def find_container(self, key: str, name: str) -> Container:
        """The list a rule names by id or name, with its size and ``membership_version``.

        One lists search narrowed to that id or name, so the cost does not grow with the portal's lists
        (a numeric name that is not a list id costs a second search). When the narrowed search finds no
        single list, the portal's lists are read in full, as the base contract does, to name the close
        matches or the duplicates. Raises ``FatalError`` when there is no such list, or several.
        """
        if name.isdigit():  # an id, most likely: the base contract prefers an id match to a name match
            _, by_id = self.named(self._containers(lists.search_lists(self.client, list_ids=[name])), key, name)
            if len(by_id) == 1:
                return by_id[0]
        _, by_name = self.named(self._containers(lists.search_lists(self.client, query=name)), key, name)
        if len(by_name) == 1:
            return by_name[0]
        return super().find_container(key, name)

    def _containers(self, rows: Iterator[dict[str, Any]]) -> list[Container]:
        found = (lists.container(self.name, row) for row in rows)
        return [c for c in found if c is not None]

    def read_members(
        self, container: Container, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        """Every member of the list (``since``/``until`` are ignored: HubSpot has no membership feed).

        Memberships are paged 250 at a time and their emails batch-read 100 at a time, carried over
        from page to page so that every batch read but the last is full; a member whose contact no
        longer exists comes back as a ``deleted`` person with no email.

        Batch reads go out ``READ_THREADS`` at a time, ahead of the records being used (at most
        ``READ_AHEAD`` waiting), so a paced portal's window is spent in a fraction of the round trips;
        records come back in the list's order all the same.
        """
        with ThreadPoolExecutor(READ_THREADS, f"{self.name}-read") as pool:
            reads: deque[tuple[list[tuple[str, datetime | None]], Future[dict[str, PersonRecord]]]] = deque()
            pending: list[tuple[str, datetime | None]] = []
            try:
                for page in lists.member_pages(self.client, container.id):
                    pending += page
                    full = len(pending) - len(pending) % contacts.BATCH_SIZE
                    for i in range(0, full, contacts.BATCH_SIZE):
                        reads.append(self._read_people(pool, pending[i : i + contacts.BATCH_SIZE]))
                    pending = pending[full:]
                    while reads and (len(reads) > READ_AHEAD or reads[0][1].done()):
                        yield from self._with_people(*reads.popleft())
                if pending:
                    reads.append(self._read_people(pool, pending))
                while reads:
                    yield from self._with_people(*reads.popleft())
            finally:
                for _, read in reads:
                    read.cancel()

    def _read_people(
        self, pool: ThreadPoolExecutor, members: list[tuple[str, datetime | None]]
    ) -> tuple[list[tuple[str, datetime | None]], Future[dict[str, PersonRecord]]]:
        return members, pool.submit(contacts.read_by_ids, self.client, self.name, [record for record, _ in members])

    def _with_people(
        self, members: list[tuple[str, datetime | None]], read: Future[dict[str, PersonRecord]]
    ) -> Iterator[MemberRecord]:
        people = read.result()
        for record, joined in members:
            person = people.get(record) or PersonRecord(
                RecordRef(self.name, contacts.CONTACT, record), None, deleted=True
            )
            yield MemberRecord(person, modified_at=joined, tie_id=record)

    def read_segment(
        self, segment: Segment, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        """Contacts matching ``segment`` now, modified in ``[since.at, until]`` when given, in
        ``lastmodifieddate`` order. Raises ``FatalError``, before any request, for a segment HubSpot's
        search cannot express."""
        try:
            groups = search.filter_groups(segment, self._now())
        except FatalError as exc:
            raise FatalError(f"{self.name}: {exc}") from exc
        for row in search.search_all(self.client, groups, since.at if since else None, until):
            yield MemberRecord(
                contacts.person(self.name, row), modified_at=search.modified_at(row), tie_id=str(row["id"])
            )

    # -- people --------------------------------------------------------------------------------------
    def lookup_people(self, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        """Contacts by email (batch read with ``idProperty=email``, 100 per call)."""
        return contacts.lookup_by_email(self.client, self.name, emails)

    def create_people(self, drafts: Sequence[PersonDraft]) -> list[CreateOutcome]:
        """Upsert contacts by email, 100 per call; refused drafts get HubSpot's message."""
        return contacts.upsert(self.client, self.name, drafts)

    # -- writes --------------------------------------------------------------------------------------
    def apply_changes(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        """Add and remove contacts on a MANUAL or SNAPSHOT list; one outcome per change, in order.

        Raises ``FatalError`` for a DYNAMIC list (HubSpot computes its members). Changes are sent in
        runs that never name one contact twice, so a repeated or reversed change within one call keeps
        its order; each run is one memberships call.
        """
        refusal = target_refusal(self.system, container.kind)
        if refusal is not None or not container.writable:
            raise FatalError(f"{self.name}: list {container.name!r} cannot be written: {refusal or 'it is read-only'}")
        outcomes: list[ChangeOutcome | None] = [None] * len(changes)
        run: list[int] = []
        in_run: set[str] = set()
        for i, change in enumerate(changes):
            if change.action is ChangeAction.SET_STATUS:
                outcomes[i] = ChangeOutcome(
                    change, OutcomeState.REJECTED, "NO_STATUS", "HubSpot lists have no member status"
                )
            elif not change.target.id.isdigit():
                outcomes[i] = ChangeOutcome(
                    change, OutcomeState.REJECTED, "INVALID_ID", f"{change.target.id!r} is not a HubSpot contact id"
                )
            else:
                if change.target.id in in_run or len(run) >= self.write_batch_size:
                    self._apply_run(container, changes, run, outcomes)
                    run, in_run = [], set()
                run.append(i)
                in_run.add(change.target.id)
        if run:
            self._apply_run(container, changes, run, outcomes)
        return [o for o in outcomes if o is not None]

    def _apply_run(
        self, container: Container, changes: Sequence[Change], run: list[int], outcomes: list[ChangeOutcome | None]
    ) -> None:
        add = [changes[i].target.id for i in run if changes[i].action is ChangeAction.ADD]
        remove = [changes[i].target.id for i in run if changes[i].action is ChangeAction.REMOVE]
        done = lists.update_memberships(self.client, container.id, add, remove)
        for i in run:
            change = changes[i]
            record = change.target.id
            if record in done.missing:
                outcomes[i] = ChangeOutcome(
                    change, OutcomeState.REJECTED, "NOT_FOUND", f"HubSpot has no contact {record}"
                )
            elif record in (done.added if change.action is ChangeAction.ADD else done.removed):
                outcomes[i] = ChangeOutcome(change, OutcomeState.APPLIED)
            else:
                state = (
                    OutcomeState.ALREADY_PRESENT if change.action is ChangeAction.ADD else OutcomeState.ALREADY_ABSENT
                )
                outcomes[i] = ChangeOutcome(change, state)

    # -- housekeeping --------------------------------------------------------------------------------
    def usage(self) -> ApiUsage:
        calls, by_endpoint = self.client.budget.counts()
        return ApiUsage(
            calls=calls, used=self.client.daily_used, limit=self.client.daily_limit, by_endpoint=by_endpoint
        )

    def close(self) -> None:
        self.client.close()


#: This package's connector, found by ``connectors.registry`` for ``type: hubspot``.
CONNECTOR = HubSpotConnector
