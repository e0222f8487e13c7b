"""What a system must offer the contract suite: a way to seed it and read its truth out of band.

Each connector ships a harness (in this repository ``tests/contract/harness_<system>.py``) that starts
its sandbox (or memory store), seeds people/containers/members directly in the emulated system, builds
the real connector against it, and reads the system's ground truth without going through the connector.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta
from typing import Any

from campaign_bridge.connectors.base import Connector
from campaign_bridge.mapping.model import RecordRef
from campaign_bridge.mapping.semantics import Role


class Harness(ABC):
    name: str
    role: Role
    #: The rule-file key of the container kind ``add_container`` makes (campaign for a CRM, list for an MA).
    container_key: str

    @abstractmethod
    def connector(self) -> Connector:
        """A fresh connector built from settings that point at this system."""

    @abstractmethod
    def add_person(self, email: str | None, **fields: Any) -> RecordRef:
        """Create a person (a CRM Contact, an MA contact) with canonical ``fields``."""

    @abstractmethod
    def add_container(self, name: str, *, statuses: list[tuple[str, bool]] | None = None) -> str:
        """A writable container: a CRM campaign (with ``statuses``, first is default) or an MA static list."""

    def add_readonly_container(self, name: str) -> str:
        """A container that cannot be written (a dynamic list); skip where the system has none."""
        raise NotImplementedError

    @abstractmethod
    def add_member(self, container_id: str, ref: RecordRef, status: str | None = None) -> None: ...

    @abstractmethod
    def remove_member(self, container_id: str, ref: RecordRef) -> None: ...

    @abstractmethod
    def members(self, container_id: str) -> dict[str, str | None]:
        """Ground truth: {record id: status or None} of the container's present members."""

    @abstractmethod
    def tick(self, seconds: float = 1.0) -> None:
        """Advance the system's clock, so later changes carry later modification stamps."""

    def close(self) -> None:  # noqa: B027 - optional
        """Stop servers."""


class FakeClock:
    """A wall clock that moves only when told (``tick``): modification stamps without sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)
