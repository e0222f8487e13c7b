"""What a connection can tell about itself: the optional ``SupportsDiscovery`` ability.

``campaign-bridge discover`` and ``doctor`` (``campaign_bridge/onboarding``) ask every connector what the
contract already gives (``list_containers``, each container's kind, size and statuses, ``segment_fields``,
and ``mapping/semantics.py``) and, of a connector that ``SupportsDiscovery``, what only its API can say:

* ``count_members``  member counts of containers whose listing did not carry a size, in as few calls as
                     the API allows (one count query per container at most; none when it has no count);
* ``check_access``   whether the integration user holds the permissions or scopes behind each ``Need``,
                     asked of the API where it can tell (Salesforce's describe, HubSpot's token info);
* ``allowance``      how much of the vendor's daily API allowance is left;
* ``server_time``    the server's clock (its ``Date`` header), for the clock-skew check.

Every method may answer "cannot tell" (``None``, or a ``Grant`` whose ``granted`` is ``None``): a system
added later implements what its API offers, and the rest is reported as unknown, never guessed. A connector
without the ability is still discovered and diagnosed from the contract alone (a listing proves the
credentials; the vendor counters of ``usage()`` give the allowance when its answers carried them).

Methods raise the error tree of ``campaign_bridge.errors`` like every other verb.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from campaign_bridge.connectors.kit.metering import Meter
from campaign_bridge.mapping.model import Container


class Need(StrEnum):
    """What a rule asks of the integration user on one connection."""

    READ_MEMBERS = "read members"  # a container is a rule's source
    READ_PEOPLE = "look people up"  # a rule writes here, so it finds people by email first
    READ_BEHAVIOUR = "read profiles and activities"  # a segment is a rule's source
    WRITE_MEMBERS = "add members"  # a container is a rule's target
    REMOVE_MEMBERS = "remove members"  # a mirror rule's target
    CREATE_PEOPLE = "create people"  # a rule's ``match.create_missing``


@dataclass(frozen=True, slots=True)
class Grant:
    """Whether the integration user holds what ``need`` takes: ``granted`` None when the API cannot tell.

    ``evidence`` says what the API answered (``CampaignMember: createable``, ``scope crm.lists.write``);
    ``fix`` what to do when it is missing, in the vendor's admin words.
    """

    need: Need
    granted: bool | None
    evidence: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class Allowance:
    """The vendor's API allowance over its ``period`` (``today``, ``rolling 24 hours``), as it reports it."""

    used: int
    limit: int
    period: str
    source: str  # where the numbers come from: "GET /limits", "X-HubSpot-RateLimit-Daily headers"

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def remaining_fraction(self) -> float:
        return self.remaining / self.limit if self.limit else 0.0


@runtime_checkable
class SupportsDiscovery(Protocol):
    """The connector answers what only its API knows, for ``discover`` and ``doctor`` (see the module)."""

    def count_members(self, containers: Sequence[Container]) -> dict[str, int]:
        """Container id → member count, for those of ``containers`` the API can count (a container whose
        ``size`` is known needs none); at most one call per container."""
        ...

    def check_access(self, needs: Collection[Need]) -> list[Grant]:
        """One ``Grant`` per need (several where a need takes several permissions), in ``needs``' order."""
        ...

    def allowance(self) -> Allowance | None:
        """The API allowance left, or None when the system does not say."""
        ...

    def server_time(self) -> datetime | None:
        """The server's clock at its last answer (``Date`` header, an aware UTC time), or None."""
        ...


def date_header(value: str | None) -> datetime | None:
    """An HTTP ``Date`` header (RFC 7231, e.g. ``Sun, 06 Dec 2026 07:01:19 GMT``) as an aware time, or None."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


class DateWatch:
    """A metering observer that keeps the last ``Date`` header a connection's answers carried.

    Added to a connector's ``Meter`` (``meter.observers``) by its discovery part, it costs no call: the
    next answer to any request tells the server's clock.
    """

    def __init__(self) -> None:
        self.last: datetime | None = None

    def __call__(self, headers: Mapping[str, str]) -> None:
        seen = date_header(headers.get("Date"))
        if seen is not None:
            self.last = seen


def watch_dates(meter: Meter) -> DateWatch:
    """The ``DateWatch`` among ``meter``'s observers, added on first use."""
    for observer in meter.observers:
        if isinstance(observer, DateWatch):
            return observer
    watch = DateWatch()
    meter.observers = (*meter.observers, watch)
    return watch
