"""A small world for engine tests: a memory CRM, a memory MA, a state store and a controllable clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.memory.data import MemoryData, drop_memory_store, memory_store
from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import RunReport
from campaign_bridge.sync.store.store import Store
from tests.contract.harness_memory import FakeClock
from tests.fresh_store import fresh_sqlite_url

_ids = itertools.count()


@dataclass
class World:
    tmp: Path
    store_url: str | None = None
    clock: FakeClock = field(default_factory=FakeClock)

    def __post_init__(self) -> None:
        n = next(_ids)
        self.crm_name, self.ma_name = f"crm-{n}", f"ma-{n}"
        self.crm: MemoryData = memory_store(self.crm_name)
        self.ma: MemoryData = memory_store(self.ma_name)
        self.crm.clock = self.ma.clock = self.clock
        self.store = Store(self.store_url or fresh_sqlite_url(self.tmp / "state.db"))
        self.rules_yaml = ""
        self.defaults_yaml = ""

    # seeding
    def campaign(self, name: str, statuses: list[tuple[str, bool]] | None = None) -> str:
        return self.crm.add_container(name, ContainerKind.CAMPAIGN, statuses or [("Sent", False), ("Responded", True)])

    def ma_list(self, name: str, kind: ContainerKind = ContainerKind.STATIC_LIST, family: str | None = None) -> str:
        return self.ma.add_container(name, kind, family=family)

    def crm_person(self, email: str | None, kind: str = "Contact", **fields: Any) -> str:
        return self.crm.add_person(email, kind, **fields)

    def ma_person(self, email: str | None, **fields: Any) -> str:
        return self.ma.add_person(email, "contact", **fields)

    def config(self, rules: str, defaults: str = "") -> ClientConfig:
        text = f"""
client: test
connections:
  crm: {{type: memory-crm, store: {self.crm_name}}}
  ma: {{type: memory-ma, store: {self.ma_name}}}
{defaults}
rules:
{rules}
"""
        return load_config_text(text, "test.yaml")

    def engine(self, config: ClientConfig) -> Engine:
        connectors: dict[str, Connector] = {
            name: build_connector(name, settings) for name, settings in config.connections.items()
        }
        return Engine(config, self.store, connectors, clock=self.clock)

    def sync(self, config: ClientConfig, rule: str, **kw: Any) -> RunReport:
        report = self.engine(config).sync(rule, **kw)
        self.clock.tick(60)
        return report

    def ma_emails(self, list_id: str) -> set[str]:
        return {self.ma.people[pid].email or "" for pid in self.ma.members(list_id)}

    def crm_members(self, campaign_id: str) -> dict[str, str | None]:
        return {self.crm.people[pid].email or "": st for pid, st in self.crm.members(campaign_id).items()}

    def close(self) -> None:
        self.store.close()
        drop_memory_store(self.crm_name)
        drop_memory_store(self.ma_name)
