"""Contract harness for the memory connector pair."""

from __future__ import annotations

import itertools
from typing import Any

from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.memory import MemoryCRM, MemoryMA, MemorySettings
from campaign_bridge.connectors.memory.data import drop_memory_store, memory_store
from campaign_bridge.mapping.model import ContainerKind, RecordRef
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.testing import FakeClock, Harness

_names = itertools.count()


class MemoryHarness(Harness):
    def __init__(self, role: Role) -> None:
        self.role = role
        self.name = f"memory-{role.value}"
        self.container_key = "campaign" if role is Role.CRM else "list"
        self.store = f"contract-{next(_names)}"
        self.data = memory_store(self.store)
        self.clock = FakeClock()
        self.data.clock = self.clock

    def connector(self) -> Connector:
        cls = MemoryCRM if self.role is Role.CRM else MemoryMA
        return cls("sys", MemorySettings(type=cls.system, store=self.store))

    def add_person(self, email: str | None, **fields: Any) -> RecordRef:
        kind = "Contact" if self.role is Role.CRM else "contact"
        return RecordRef("sys", kind, self.data.add_person(email, kind, **fields))

    def add_container(self, name: str, *, statuses: list[tuple[str, bool]] | None = None) -> str:
        if self.role is Role.CRM:
            return self.data.add_container(
                name, ContainerKind.CAMPAIGN, statuses or [("Sent", False), ("Responded", True)]
            )
        return self.data.add_container(name, ContainerKind.STATIC_LIST)

    def add_readonly_container(self, name: str) -> str:
        if self.role is Role.CRM:
            raise NotImplementedError
        return self.data.add_container(name, ContainerKind.DYNAMIC_LIST)

    def add_member(self, container_id: str, ref: RecordRef, status: str | None = None) -> None:
        self.data.add_member(container_id, ref.id, status)

    def remove_member(self, container_id: str, ref: RecordRef) -> None:
        self.data.remove_member(container_id, ref.id)

    def members(self, container_id: str) -> dict[str, str | None]:
        return self.data.members(container_id)

    def tick(self, seconds: float = 1.0) -> None:
        self.clock.tick(seconds)

    def close(self) -> None:
        drop_memory_store(self.store)
