"""The connector contract: the few verbs the engine needs from any system.

A connector is built from its connection's settings (``Connector.Settings``, a pydantic model) and
speaks the canonical model of ``mapping.model``. It translates every vendor exception into the tree of
``campaign_bridge.errors`` at its boundary and applies its retry policy in one place.

Required verbs:
  ``list_containers``  every campaign/list/… the connection can see, with capabilities
  ``read_members``     members of one container, fully or since a watermark
  ``lookup_people``    people by email, in batches of at most ``lookup_batch_size``
  ``apply_changes``    adds / status changes / removals on one container, at most ``write_batch_size``

Optional abilities are the ``Supports*`` protocols below; check them with ``isinstance``. How a batch of
changes is written (``apply_changes`` in batches, or ``apply_bulk`` in chunks) is decided in one place,
``writer_for``. A connector built with settings of another type raises ``FatalError`` (``settings_as``).

REST connectors stand on ``connectors.kit``: session, metering, pacing, the call loop and the error table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, NamedTuple, Protocol, TypeGuard, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import (
    ApiUsage,
    Change,
    ChangeOutcome,
    Container,
    CreateOutcome,
    MemberRecord,
    PersonDraft,
    PersonRecord,
    RecordRef,
)
from campaign_bridge.mapping.segment import Segment, SegmentField
from campaign_bridge.mapping.semantics import SEMANTICS, Role

Clock = Callable[[], datetime]
#: A connector's ``apply_changes`` or ``apply_bulk``: one outcome per change, in order.
Apply = Callable[[Container, Sequence[Change]], list[ChangeOutcome]]
S = TypeVar("S", bound=BaseModel)

#: Calls a connection may spend in one run unless its settings say otherwise.
DEFAULT_API_BUDGET_PER_RUN = 50_000


class ConnectionSettings(BaseModel):
    """Settings every connection has; each connector extends this with its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    api_budget: int = Field(
        default=DEFAULT_API_BUDGET_PER_RUN,
        gt=0,
        description="At most this many API calls per run; the run stops cleanly and resumes next time.",
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds before one HTTP call is abandoned.")


@dataclass(frozen=True, slots=True)
class Watermark:
    """Where an incremental read resumes: a source modification stamp and an id tie-break."""

    at: datetime
    tie_id: str = ""


class Connector(ABC):
    """One connection to one system. One engine run uses one instance, from one thread at a time unless
    the connector says ``concurrent_calls``."""

    #: The ``type:`` of a connection in the client file.
    system: ClassVar[str]
    #: The settings model validated for this connection at config load.
    Settings: ClassVar[type[ConnectionSettings]] = ConnectionSettings
    #: Largest number of changes ``apply_changes`` accepts in one call.
    write_batch_size: ClassVar[int] = 200
    #: Largest number of emails ``lookup_people`` accepts in one call.
    lookup_batch_size: ClassVar[int] = 200
    #: ``read_members(since=…)`` returns only records modified since the watermark.
    reads_incrementally: ClassVar[bool] = False
    #: An incremental read reports removed memberships (``MemberRecord.removed``).
    sees_removals_incrementally: ClassVar[bool] = False
    #: A read covers everything the system had recorded up to the run's start (an activity feed read by
    #: time, as Marketo's): the watermark may then move up to the run's start less the look-back even when
    #: the newest record read is older, so that the next run does not read that record again. Systems
    #: whose stamps come from record commits (Salesforce's ``SystemModstamp``) keep the newest stamp.
    watermark_follows_clock: ClassVar[bool] = False
    #: Two threads may call it at once (the engine then looks people up in one while it writes in the
    #: other, so a paced vendor's window is never idle while the run writes).
    concurrent_calls: ClassVar[bool] = False
    #: The canonical segment fields ``read_segment`` can translate, each with its type on this system
    #: (``SupportsSegments``); empty for a connector that reads no segments. A class attribute, so
    #: ``validate --offline`` refuses any other field from the connection's ``type:`` alone.
    segment_fields: ClassVar[Mapping[str, SegmentField]] = {}

    def __init__(self, name: str, settings: ConnectionSettings) -> None:
        """Raises ``FatalError`` when ``settings`` are not this connector's ``Settings``."""
        self.name = name
        self.settings = settings_as(name, settings, type(self).Settings)

    @property
    def role(self) -> Role:
        return SEMANTICS[self.system].role

    def reads_since(self, container: Container) -> bool:
        """Whether ``read_members(container, since=…, until=…)`` reads only what changed since the watermark
        (memberships that ended come back with ``removed``). The engine reads such a source incrementally
        between full reads, and trusts the container it found at the last full read instead of finding it
        again. The class's ``reads_incrementally`` by default; a system with a change feed for some kinds of
        container only (Marketo's static lists) answers per container."""
        return self.reads_incrementally

    @abstractmethod
    def list_containers(self) -> Sequence[Container]:
        """Every container this connection can see, with capabilities. Raises the error tree."""

    def find_container(self, key: str, name: str) -> Container:
        """The container a rule names by ``key`` (campaign, list…) and name or id.

        Raises ``FatalError`` naming the close matches when there is none, or several with that name.
        """
        candidates, found = self.named(self.list_containers(), key, name)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ", ".join(c.id for c in found)
            raise FatalError(f"{self.name}: {len(found)} {key}s are named {name!r} ({ids}); name one by id")
        import difflib

        close = difflib.get_close_matches(name, [c.name for c in candidates], n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise FatalError(f"{self.name}: no {key} named {name!r}{hint}")

    def named(self, containers: Iterable[Container], key: str, name: str) -> tuple[list[Container], list[Container]]:
        """Among ``containers``, those of ``key``'s kinds, and those of them that ``name`` names: by id if
        any has that id, else by name."""
        from campaign_bridge.mapping.semantics import kinds_for

        kinds = {k.kind for k in kinds_for(self.system, key)}
        candidates = [c for c in containers if c.kind in kinds]
        found = [c for c in candidates if c.id == name] or [c for c in candidates if c.name == name]
        return candidates, found

    @abstractmethod
    def read_members(
        self, container: Container, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        """Members of ``container``: all of them when ``since`` is None, else those modified in
        ``[since.at, until]`` (``>=``: the engine applies its look-back and de-duplicates), with
        removals flagged where ``sees_removals_incrementally``. Ordered by (modified_at, tie_id)
        when incremental."""

    @abstractmethod
    def lookup_people(self, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        """Records matching each (normalised) email; an email with no match is absent from the
        result. Values are escaped by the connector: an email holding a quote matches only itself."""

    @abstractmethod
    def apply_changes(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        """Apply up to ``write_batch_size`` changes; one outcome per change, in order.

        A record the target refuses is an outcome (REJECTED), not an exception. Exceptions mean the
        whole call failed: ``TransientError``/``RateLimitedError`` (nothing or an unknown part applied:
        the engine re-reads outcomes by re-applying, which is idempotent), ``QuotaExhaustedError``,
        ``FatalError``.
        """

    def prepare_writes(self, container: Container) -> None:
        """A run is about to write adds to ``container`` (called once, on the writer thread, as the first add
        is planned): read now whatever the first write would otherwise wait for. Nothing by default; Marketo
        reads a static list's first page. Raises the error tree; a failure here is asked again by the write."""
        return None

    def usage(self) -> ApiUsage:
        """API calls this instance has made, and the vendor's own counters where it reports them."""
        return ApiUsage()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sessions and pools."""


@runtime_checkable
class SupportsSegments(Protocol):
    """The connector can read people matching a canonical ``Segment`` (translated natively).

    It declares the fields it can translate in ``Connector.segment_fields``, which ``validate`` reads.
    """

    def read_segment(
        self, segment: Segment, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]: ...


@runtime_checkable
class SupportsSegmentChanges(Protocol):
    """The connector can read what changed in a segment since a watermark, where the segment's membership
    lapses with time (clicked an e-mail within 30 days): between full reads, the engine asks only for the
    changes and lets members lapse by their stamp instead of reading the whole segment again."""

    def segment_lapse(self, segment: Segment) -> timedelta | None:
        """None: ``segment`` is read in full every run. Otherwise how long a membership lasts after its
        stamp: ``read_segment(segment, since, until)`` then yields only the people whose facts changed since
        ``since`` (evaluated now; ``removed`` when they no longer match), and every record ``read_segment``
        yields, full or not, has ``modified_at`` = the moment its membership counts from (the person's newest
        qualifying activity). A member whose stamp is older than ``now - lapse`` has left the segment."""
        ...


@runtime_checkable
class SupportsCreatePeople(Protocol):
    """The connector can create people (a Salesforce Lead, a HubSpot contact) for ``create_missing``."""

    def create_people(self, drafts: Sequence[PersonDraft]) -> list[CreateOutcome]: ...


class MemberOrigin(NamedTuple):
    """A member as the target reports it: its status, and whether this integration added it (its own user
    created the membership); None where the target cannot say."""

    status: str | None
    added_by_us: bool | None


@runtime_checkable
class SupportsMemberOrigin(Protocol):
    """The target records who added each member (Salesforce ``CampaignMember.CreatedById``), so a run can
    tell whether a member that a killed run may have added was its add or a person's: the engine's evidence
    for ownership after a crash (``sync/intents.py``). Connectors without it are never credited with such
    a member (the safe side: a rule never removes what it cannot show it added)."""

    def member_origin(self, container: Container, refs: Sequence[RecordRef]) -> dict[str, MemberOrigin]:
        """For the ``refs`` (at most ``lookup_batch_size``) that are members of ``container``: record id →
        status and origin. Refs missing from the answer are not members."""
        ...


@runtime_checkable
class SupportsCampaignLists(Protocol):
    """The system keeps membership in lists linked to a campaign (Dynamics 365), so a rule may target a campaign
    and the list to write in it (``to: {campaign: C, list: L}``)."""

    def find_campaign_list(self, campaign: str, name: str, *, create_as: str | None) -> Container:
        """The list ``name`` linked to ``campaign`` (each by name or id), with the campaign's member statuses.

        When the campaign has no such list and ``create_as`` names a person kind, a container standing for the
        static list of that kind that the first write creates and links (nothing is written here). Raises
        ``FatalError`` when the campaign or (``create_as`` None) the list cannot be found."""
        ...


@runtime_checkable
class SupportsBulkApply(Protocol):
    """The connector can apply many more than ``write_batch_size`` changes at once (Salesforce Bulk API 2.0).

    The engine calls ``apply_bulk`` with chunks of up to ``bulk_batch_size`` changes instead of batching
    ``apply_changes`` when the work holds more than ``bulk_threshold`` changes; outcomes are the same as
    ``apply_changes``' (one per change, in order; a refused record is REJECTED, not an exception).
    """

    @property
    def bulk_threshold(self) -> int:
        """Above this many changes, bulk is cheaper in calls than ``apply_changes``."""
        ...

    @property
    def bulk_batch_size(self) -> int:
        """Largest number of changes ``apply_bulk`` accepts in one call."""
        ...

    def apply_bulk(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]: ...


def settings_as(connection: str, settings: object, model: type[S]) -> S:
    """``settings``, checked to be a ``model``: what a connector does with the settings it is built with.

    Raises ``FatalError`` naming the connection and both types otherwise (a person wired the wrong
    settings to this connection; the config loader, which validates each connection's block against its
    connector's ``Settings``, reports problems in a client file as ``ConfigError`` with FILE:LINE instead).
    """
    if not isinstance(settings, model):
        declared = getattr(settings, "type", None)
        of_type = f" (type: {declared})" if isinstance(declared, str) else ""
        raise FatalError(
            f"{connection}: this connection needs {model.__name__}, got {type(settings).__name__}{of_type}"
        )
    return settings


def uses_bulk(connector: Connector, count: int) -> TypeGuard[SupportsBulkApply]:
    """Whether ``count`` changes go to ``connector`` through ``apply_bulk``: it ``SupportsBulkApply`` and
    ``count`` is more than its ``bulk_threshold``."""
    return isinstance(connector, SupportsBulkApply) and count > connector.bulk_threshold


def writer_for(connector: Connector, count: int) -> tuple[Apply, int]:
    """How ``count`` changes go to ``connector``: the apply function and the most changes per call.

    ``(apply_bulk, bulk_batch_size)`` when ``uses_bulk``, else ``(apply_changes, write_batch_size)``. The one
    place this is decided: the engine and the connectors themselves ask here.
    """
    if uses_bulk(connector, count):
        return connector.apply_bulk, connector.bulk_batch_size
    return connector.apply_changes, connector.write_batch_size
