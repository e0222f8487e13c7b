"""Opening a rule's source (DESIGN §5, step 2): in full, or since its watermark less the look-back, or
not at all when the source says its membership has not moved. Writes no state.

Between full reads (``full_read_every``), a source with a change feed (``Connector.reads_since``) is read
since its watermark from the container the last full read found (``remembered``), without asking the
system for it again; a source with neither a feed nor a membership version is read whole from that container
(every run reads it whole anyway); and a segment whose membership lapses with time (``SupportsSegmentChanges``) is read
for its changes only, its members lapsing by their stamps (``SourceRead.lapse``). A full read finds the
container again, so a renamed, deleted or re-pointed source is noticed within a day.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaign_bridge.config.models import ClientConfig, Rule, duration_seconds
from campaign_bridge.connectors.base import Connector, SupportsSegmentChanges, SupportsSegments, Watermark
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import Container, ContainerKind, MemberRecord, MemberStatus
from campaign_bridge.sync.plan import RunReport
from campaign_bridge.sync.store.states import UNSETTLED
from campaign_bridge.sync.store.store import Store
from campaign_bridge.sync.target import connector_of


@dataclass(slots=True)
class SourceRead:
    """An open read of a rule's source: its records (read as they are consumed), whether the read is full,
    the watermark it starts from, and the source container's membership version (None if it gives none).
    ``unchanged``: the version had not moved since the last clean full read, so nothing is read."""

    rows: Iterator[MemberRecord]
    full: bool
    mark: Watermark | None
    version: str | None
    unchanged: bool = False
    #: The container a full read found, to remember for the incremental reads until the next one.
    container: Container | None = None
    #: A segment read for its changes only: members stamped longer ago than this have left it.
    lapse: timedelta | None = None
    #: A full read that found its container again (a scheduled one). False for a source with neither a change
    #: feed nor a membership version, read in full from the remembered container between scheduled full
    #: reads: it settles membership as any full read does, but the next scheduled one still looks it up.
    found: bool = True


class Sources:
    """Opens the sources of one client's rules."""

    def __init__(self, config: ClientConfig, store: Store, connectors: Mapping[str, Connector]) -> None:
        self.config, self.store, self.connectors = config, store, connectors

    def open(self, rule: Rule, now: datetime, *, full: bool = False) -> SourceRead:
        """Start reading the rule's source: in full when ``full`` (or when the rule's watermark, segment or
        full-read schedule says so), else since the watermark less the look-back. A source whose container
        reports a membership version that has not moved since the last clean full read, with nothing left
        to retry, is not read at all (an incremental read of nothing)."""
        source = connector_of(self.connectors, rule.source.connection)
        mark, full_read_at = self.store.watermark(rule.name)
        every = duration_seconds(self.config.defaults.full_read_every)
        due = mark is None or full_read_at is None or (now - full_read_at).total_seconds() >= every
        lookback = timedelta(seconds=duration_seconds(self.config.defaults.lookback))
        # where an incremental read starts (only read when not due, so only when there is a watermark)
        since = Watermark(mark.at - lookback, mark.tie_id) if mark is not None else None
        kept = self.store.source_container(rule.name)
        # A rule edited to read another source reads it in full: its watermark is the old source's.
        due = due or moved(kept, rule)
        segment = rule.source.parsed_segment
        if segment is not None:
            if not isinstance(source, SupportsSegments):
                raise FatalError(f"rule {rule.name!r}: {source.system} cannot read segments")
            lapse = source.segment_lapse(segment) if isinstance(source, SupportsSegmentChanges) else None
            if lapse is not None and not (full or due):
                changes = source.read_segment(segment, since=since, until=now)
                return SourceRead(iter(changes), False, mark, None, lapse=lapse)
            return SourceRead(iter(source.read_segment(segment)), True, mark, None)
        if not (full or due):
            known = recall(kept, rule)
            if known is not None and source.reads_since(known):
                problems = source_problems(rule, known)
                if problems:
                    raise FatalError(f"rule {rule.name!r} from: " + "; ".join(problems))
                # The container the last full read found: one call less on every idle run.
                return SourceRead(iter(source.read_members(known, since=since, until=now)), False, mark, None)
            if known is not None and unversioned(kept):
                # Neither a feed nor a version (a Marketo smart list, a Dynamics dynamic list): every run reads
                # it whole, so looking it up again between scheduled full reads would only add calls.
                known = dataclasses.replace(known, size=last_read(kept, rule))
                return SourceRead(iter(source.read_members(known)), True, mark, None, found=False)
        container = source.find_container(rule.source.key, rule.source.container_name)
        if container.size is None:
            # The system does not say how many members it has: the last full read's count is the best guess,
            # and lets a connector choose its cheaper way of reading (pages or an export) without a probe.
            container = dataclasses.replace(container, size=last_read(kept, rule))
        problems = source_problems(rule, container)
        if problems:
            # An unknown status selects nobody: the plan would remove every member the rule added.
            raise FatalError(f"rule {rule.name!r} from: " + "; ".join(problems))
        version = container.membership_version
        if (
            not (full or due)
            and version is not None
            and version == self.store.source_version(rule.name)
            and not self.retryable(rule)
        ):
            return SourceRead(iter(()), False, mark, version, unchanged=True)
        if full or due or not source.reads_since(container):
            return SourceRead(iter(source.read_members(container)), True, mark, version, container=container)
        return SourceRead(iter(source.read_members(container, since=since, until=now)), False, mark, version)

    def floor(self, rule: Rule, now: datetime) -> tuple[datetime, str] | None:
        """The lowest the rule's next watermark may be after a clean read at ``now``: the run's start less
        the look-back, for a source whose reads cover everything up to the run's start
        (``Connector.watermark_follows_clock``); else None (the newest stamp read decides)."""
        source = connector_of(self.connectors, rule.source.connection)
        if not source.watermark_follows_clock:
            return None
        return now - timedelta(seconds=duration_seconds(self.config.defaults.lookback)), ""

    def read_all(
        self, rule: Rule, report: RunReport, now: datetime, *, full: bool
    ) -> tuple[list[MemberRecord], bool, Watermark | None]:
        """The whole of ``open``'s read at once (the reconciler compares whole sets). Returns the records,
        whether the read was full, and the watermark it started from; sets ``report.read`` and
        ``report.full_read``."""
        read = self.open(rule, now, full=full)
        rows = list(read.rows)
        report.full_read = read.full
        report.read = len(rows)
        return rows, read.full, read.mark

    def retryable(self, rule: Rule) -> set[str]:
        """Persons whose last write did not reach a final state: failed, or pending or removing (a run died
        mid-batch)."""
        return self.store.ledger_keys_in_state(rule.name, UNSETTLED)


def source_problems(rule: Rule, container: Container) -> list[str]:
    """Why ``rule``'s ``member_status`` (or the source statuses its target's ``status_map`` names) cannot
    select members of its source ``container``: one reason per
    status the container does not have, compared as a run compares them (case-insensitively), naming the
    container's own labels. The text does not name the rule: callers put it in front."""
    wanted = tuple(dict.fromkeys((*(rule.source.member_status or ()), *(rule.target.status_map or ()))))
    if not wanted:
        return []
    if not container.statuses:
        what = "member_status" if rule.source.member_status else "to.status_map"
        return [f"{container.name!r} has no member statuses to filter on; remove {what}"]
    labels = [s.label for s in container.statuses]
    folded = {label.casefold(): label for label in labels}
    out = []
    for status in wanted:
        if container.status(status) is None:
            close = difflib.get_close_matches(status.casefold(), list(folded), n=1, cutoff=0.6)
            has = f"it has {', '.join(labels)}"
            hint = f"did you mean {folded[close[0]]!r}? {has[0].upper()}{has[1:]}" if close else has
            out.append(f"{container.name!r} has no member status {status!r}; {hint}")
    return out


def remembered(rule: Rule, container: Container | None, read: int) -> str:
    """``container`` as the store keeps it for the rule's incremental reads (``recall`` reads it back): the
    facts a read needs, with the rule's source key and name it was found by (for a segment, its definition
    alone, so that an edited segment is read in full), and how many records the full read found (``read``:
    the size the next full read expects, where the system does not say it; see ``Sources.open``)."""
    if container is None:
        return json.dumps({"from": _source_of(rule)})
    return json.dumps(
        {
            "from": _source_of(rule),
            "read": read,
            "id": container.id,
            "name": container.name,
            "kind": container.kind.value,
            "writable": container.writable,
            "exclusive": container.exclusive,
            "has_status": container.has_status,
            "family": container.family,
            "statuses": [[s.label, s.responded, s.default, s.rank] for s in container.statuses],
            "member_kind": container.member_kind,
            "versioned": container.membership_version is not None,
        }
    )


def _source_of(rule: Rule) -> list[str]:
    """What the rule selects from its source: the container or segment, and the statuses that qualify. An
    edit to any of it reads the source in full, since the watermark only covers what was selected before."""
    what = rule.source.segment
    named = json.dumps(what, sort_keys=True, default=str) if what is not None else rule.source.container_name
    statuses = json.dumps([rule.source.member_status, rule.target.status_map], sort_keys=True)
    return [rule.source.connection, rule.source.key, named, statuses]


def moved(text: str | None, rule: Rule) -> bool:
    """Whether the rule's last full read, as ``remembered`` kept it, read another source than the rule
    names now (the rule was edited since)."""
    if not text:
        return False
    try:
        return bool(json.loads(text).get("from") != _source_of(rule))
    except (ValueError, AttributeError):
        return True


def last_read(text: str | None, rule: Rule) -> int | None:
    """How many records the rule's last full read of this same source found, as ``remembered`` kept it."""
    if not text or moved(text, rule):
        return None
    read = json.loads(text).get("read")
    return read if isinstance(read, int) and read >= 0 else None


def unversioned(text: str | None) -> bool:
    """Whether the container ``remembered`` kept gave no membership version when it was found (so nothing but
    a whole read tells whether its members moved). False for a text written before this was kept."""
    try:
        return bool(text) and json.loads(text or "").get("versioned") is False
    except (ValueError, AttributeError):
        return False


def recall(text: str | None, rule: Rule) -> Container | None:
    """The container ``remembered`` kept, or None when there is none or the rule's source has been changed
    to name another one since (or the text is not what ``remembered`` writes)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        if data.get("from") != _source_of(rule):
            return None
        return Container(
            connection=rule.source.connection,
            id=str(data["id"]),
            name=str(data["name"]),
            kind=ContainerKind(data["kind"]),
            writable=bool(data["writable"]),
            exclusive=bool(data["exclusive"]),
            has_status=bool(data["has_status"]),
            family=data["family"],
            statuses=tuple(MemberStatus(str(a), bool(b), bool(c), int(d)) for a, b, c, d in data["statuses"]),
            member_kind=data["member_kind"],
        )
    except (ValueError, KeyError, TypeError):
        return None
