"""The Marketo connector: static lists and programs as targets, static and smart lists, programs and
activity segments as sources.

What Marketo's words mean here (``mapping/semantics.py``, row ``marketo``):

* a **static list** is written by adding and removing leads (300 per call); a **smart list** is computed
  by Marketo, read-only, and readable only through a bulk lead extract;
* a **program** holds members with a **status** from its channel's ordered steps; a rule writes it with
  a status (``to.status``, or ``to.status_map`` from the source's member statuses) and Marketo never
  lowers a member's step (1037), which the connector reports with the member's real status;
* a **smart campaign** is a flow, never a target;
* people are **leads** keyed by email, duplicates allowed: a lookup returns every lead of an email;
* between the engine's full reads, a static list is read from the activity feed (Add to List / Remove from
  List, ``members.changes``) and a one-window activity segment for its changes (``segments.lapse``); smart
  lists, programs and other segments are read in full every run.

Every request goes through ``client.MarketoClient`` (requests on the connector kit): one ``CallPolicy``,
pacing below 100 calls per 20 s and 10 in flight, the run's ``ApiBudget``, one token renewal on 601/602,
and Marketo's error table (``errors.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from campaign_bridge.connectors.base import ConnectionSettings, Connector, Watermark, settings_as
from campaign_bridge.connectors.marketo import containers, leads, members, segments, writes
from campaign_bridge.connectors.marketo.client import MarketoClient, Monotonic, Sleep
from campaign_bridge.connectors.marketo.discovery import MarketoDiscovery
from campaign_bridge.connectors.marketo.settings import MarketoSettings
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import (
    ApiUsage,
    Change,
    ChangeAction,
    ChangeOutcome,
    Container,
    ContainerKind,
    CreateOutcome,
    MemberRecord,
    OutcomeState,
    PersonDraft,
    PersonRecord,
)
from campaign_bridge.mapping.segment import Segment, SegmentField
from campaign_bridge.mapping.semantics import target_refusal

__all__ = ["CONNECTOR", "MarketoConnector", "MarketoSettings"]


#: Above this many changes ``apply_bulk`` is used: a bulk import is about three calls, 300-lead calls one
#: per 300 changes.
BULK_THRESHOLD = 900
#: Changes per ``apply_bulk`` call: 25,000 lead ids make a CSV far below an import's 10 MB. (5,000 was tried
#: to shorten the last import a run waits for once its source is read: under Marketo's window the extra
#: uploads and polls cost more than that saved, 52.7 s against 46.6 s for 60,000 members.)
BULK_BATCH = 25_000


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MarketoConnector(MarketoDiscovery, Connector):
    """One Marketo instance. ``policy``, ``now``, ``monotonic`` and ``sleep`` are injectable for tests."""

    system: ClassVar[str] = "marketo"
    Settings: ClassVar[type[ConnectionSettings]] = MarketoSettings
    #: Leads per Add to List / Remove from List / Sync Program Member Status call (Marketo's maximum).
    write_batch_size: ClassVar[int] = writes.BATCH
    #: Emails per Get Leads by Filter call (Marketo's maximum).
    lookup_batch_size: ClassVar[int] = leads.BATCH_SIZE
    reads_incrementally: ClassVar[bool] = False
    sees_removals_incrementally: ClassVar[bool] = False
    #: The activity feed is read by time up to the run's start: the next run need not read the newest
    #: activity again (it would cost a leads-by-id call on every quiet run).
    watermark_follows_clock: ClassVar[bool] = True
    #: ``MarketoClient`` shares its pacer (with Marketo's concurrency cap), budget and token under locks.
    concurrent_calls: ClassVar[bool] = True
    segment_fields: ClassVar[Mapping[str, SegmentField]] = segments.SEGMENT_FIELDS

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
        mk_settings = settings_as(name, settings, MarketoSettings)
        super().__init__(name, mk_settings)
        self._now = now
        self.client = MarketoClient(
            name, mk_settings, policy=policy or CallPolicy(sleep=sleep), clock=monotonic, sleep=sleep
        )
        self._lists: dict[str, writes.ListWriter] = {}

    # -- containers ----------------------------------------------------------------------------------
    def list_containers(self) -> Sequence[Container]:
        """Static lists, smart lists, programs (with their channels' statuses) and smart campaigns."""
        return containers.all_containers(self.client, self.name)

    def find_container(self, key: str, name: str) -> Container:
        """The container a rule names, in one or two calls (a list by name or id; a program and its
        channel); when that finds none or several, the full listing names the close matches."""
        found = containers.find(self.client, self.name, key, name)
        if len(found) == 1:
            return found[0]
        return super().find_container(key, name)

    def reads_since(self, container: Container) -> bool:
        """Static lists only: their adds and removals are in Marketo's activity feed (instance-wide: one call
        per 300 list changes anywhere in the instance since the watermark; 2 calls when idle). Smart lists and
        programs have no feed read here and are read in full (``members.py``)."""
        return members.has_feed(container)

    def read_members(
        self, container: Container, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        """Every member; or, with ``since`` on a static list, the memberships that changed since then (removals
        flagged) from the activity feed. ``since`` on a container without a feed reads it in full."""
        if since is not None and members.has_feed(container):
            return members.changes(self.client, self.name, container, since.at, until)
        return members.read(self.client, self.name, container, bulk=self.client.settings.bulk_read)

    def segment_lapse(self, segment: Segment) -> timedelta | None:
        """The window of a segment that is one activity window (clicked an e-mail within 30 days), so that the
        engine can read only its changes and let members lapse; None for any other segment."""
        return segments.lapse(segment)

    def read_segment(
        self, segment: Segment, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        """Leads matching ``segment`` now (``segments.py``), stamped with their newest qualifying activity; with
        ``since`` (a segment ``segment_lapse`` accepts), those whose activity changed since then. Raises
        ``FatalError`` before any request for a segment Marketo cannot select server-side, naming the
        smart-list alternative."""
        try:
            segments.plan(segment)
        except FatalError as exc:
            raise FatalError(f"{self.name}: {exc}") from exc
        start = since.at if since is not None and segments.lapse(segment) is not None else None
        return segments.read(self.client, self.name, segment, self._now(), start)

    # -- people --------------------------------------------------------------------------------------
    def lookup_people(self, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        """Leads by email, every duplicate included (300 emails per call)."""
        return leads.lookup_by_email(self.client, self.name, emails)

    def create_people(self, drafts: Sequence[PersonDraft]) -> list[CreateOutcome]:
        """Create leads (``createOnly``, 300 per call); an address that already has a lead is refused per
        record (1005), never merged into one picked blindly."""
        return leads.create(self.client, self.name, drafts)

    # -- writes --------------------------------------------------------------------------------------
    def apply_changes(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        """Add, remove or set the status of leads on a static list or a program; one outcome per change.

        Raises ``FatalError`` before any request for a smart list or a smart campaign. Changes are sent in
        runs that never name one lead twice, so a repeated change within one call keeps its order."""
        refusal = target_refusal(self.system, container.kind)
        if refusal is not None or not container.writable:
            raise FatalError(f"{self.name}: {container.name!r} cannot be written: {refusal or 'it is read-only'}")
        outcomes: list[ChangeOutcome | None] = [None] * len(changes)
        run: list[int] = []
        seen: set[str] = set()
        for i, change in enumerate(changes):
            problem = self._refused(container, change)
            if problem is not None:
                outcomes[i] = problem
                continue
            if change.target.id in seen or len(run) >= self.write_batch_size:
                self._apply_run(container, [changes[j] for j in run], run, outcomes)
                run, seen = [], set()
            run.append(i)
            seen.add(change.target.id)
        if run:
            self._apply_run(container, [changes[j] for j in run], run, outcomes)
        return [o for o in outcomes if o is not None]

    def prepare_writes(self, container: Container) -> None:
        """A run is about to write adds to ``container``: a static list's first page is read now, while the
        run still reads its source and Marketo's window has room, rather than by the first write (the first
        bulk import would wait for it, then take the next window's first slot, and the import holds every
        call alongside it: measured in docs/benchmarks.md, Marketo limits on)."""
        if container.kind is ContainerKind.STATIC_LIST and container.writable:
            self._lists.setdefault(container.id, writes.ListWriter(self.client, container)).learn()

    def _refused(self, container: Container, change: Change) -> ChangeOutcome | None:
        if not change.target.id.isdigit():
            return ChangeOutcome(change, OutcomeState.REJECTED, "INVALID_ID", f"{change.target.id!r} is not a lead id")
        if container.kind is ContainerKind.PROGRAM and change.action is not ChangeAction.REMOVE:
            status = change.status or (container.default_status.label if container.default_status else None)
            if status is None or container.status(status) is None:
                labels = ", ".join(s.label for s in container.statuses)
                return ChangeOutcome(
                    change, OutcomeState.REJECTED, "1025", f"{status!r} is not a status of this program ({labels})"
                )
        if container.kind is ContainerKind.STATIC_LIST and change.action is ChangeAction.SET_STATUS:
            return ChangeOutcome(change, OutcomeState.REJECTED, "NO_STATUS", "Marketo static lists have no status")
        return None

    def _apply_run(
        self, container: Container, run: list[Change], where: list[int], outcomes: list[ChangeOutcome | None]
    ) -> None:
        done: dict[int, ChangeOutcome] = {}
        removals = [k for k, c in enumerate(run) if c.action is ChangeAction.REMOVE]
        if container.kind is ContainerKind.STATIC_LIST:
            writer = self._lists.setdefault(container.id, writes.ListWriter(self.client, container))
            adds = [k for k, c in enumerate(run) if c.action is ChangeAction.ADD]
            if adds:
                done.update(zip(adds, writer.add([run[k] for k in adds]), strict=True))
            if removals:
                done.update(zip(removals, writer.remove([run[k] for k in removals]), strict=True))
        else:
            by_status: dict[str, list[int]] = {}
            for k, c in enumerate(run):
                if c.action is not ChangeAction.REMOVE:
                    status = container.status(c.status) if c.status else container.default_status
                    assert status is not None  # _refused checked it
                    by_status.setdefault(status.label, []).append(k)
            for label, ks in by_status.items():
                done.update(
                    zip(ks, writes.set_status(self.client, container, label, [run[k] for k in ks]), strict=True)
                )
            if removals:
                done.update(
                    zip(
                        removals, writes.delete_members(self.client, container, [run[k] for k in removals]), strict=True
                    )
                )
        for k, i in enumerate(where):
            outcomes[i] = done[k]

    # -- bulk ----------------------------------------------------------------------------------------
    @property
    def bulk_threshold(self) -> int:
        """Above this many changes, one bulk import (an upload and a poll or two) beats 300-lead calls."""
        return BULK_THRESHOLD

    @property
    def bulk_batch_size(self) -> int:
        return BULK_BATCH

    def apply_bulk(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        """Many changes at once, with the outcomes ``apply_changes`` gives: a static list's adds through one
        bulk import (its removals 300 per call); a program's changes grouped by status, 300 per call, so that
        mixed statuses never split a call one status could fill. Changes naming one lead twice go through
        ``apply_changes`` in order instead."""
        if len({c.target.id for c in changes}) < len(changes):
            out: list[ChangeOutcome] = []
            for i in range(0, len(changes), self.write_batch_size):
                out += self.apply_changes(container, changes[i : i + self.write_batch_size])
            return out
        refusal = target_refusal(self.system, container.kind)
        if refusal is not None or not container.writable:
            raise FatalError(f"{self.name}: {container.name!r} cannot be written: {refusal or 'it is read-only'}")
        outcomes: list[ChangeOutcome | None] = [self._refused(container, c) for c in changes]
        groups: dict[tuple[ChangeAction, str | None], list[int]] = {}
        for i, c in enumerate(changes):
            if outcomes[i] is not None:
                continue
            status = None
            if container.kind is ContainerKind.PROGRAM and c.action is not ChangeAction.REMOVE:
                found = container.status(c.status) if c.status else container.default_status
                status = found.label if found else None
            groups.setdefault((c.action, status), []).append(i)
        for (action, _), ids in groups.items():
            if container.kind is ContainerKind.STATIC_LIST and action is ChangeAction.ADD:
                writer = self._lists.setdefault(container.id, writes.ListWriter(self.client, container))
                for i, outcome in zip(ids, writer.bulk_add([changes[i] for i in ids]), strict=True):
                    outcomes[i] = outcome
                continue
            for j in range(0, len(ids), self.write_batch_size):
                part = ids[j : j + self.write_batch_size]
                self._apply_run(container, [changes[i] for i in part], part, outcomes)
        return [o for o in outcomes if o is not None]

    # -- housekeeping --------------------------------------------------------------------------------
    def usage(self) -> ApiUsage:
        calls, by_endpoint = self.client.budget.counts()
        return ApiUsage(calls=calls, by_endpoint=by_endpoint)

    def close(self) -> None:
        self.client.close()


#: This package's connector, found by ``connectors.registry`` for ``type: marketo``.
CONNECTOR = MarketoConnector
