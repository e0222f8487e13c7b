"""A client for scheduler tests: a memory CRM and MA persisted as JSON (so `serve` subprocesses share them),
a state store, and a client file written to disk (so reload and subprocesses read it like a user's)."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from campaign_bridge.connectors.memory.data import MemoryData, drop_memory_store, memory_store
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.sync.store.store import Store

_ids = itertools.count()

RULE = """\
  - name: {name}
    from: {{connection: crm, campaign: "{campaign}"}}
    to:   {{connection: ma, list: "{list}"}}
    schedule: {{{schedule}}}
"""


class FakeClock:
    """The scheduler's time, moved by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when

    def tick(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class Client:
    """Files of one client: ``crm.json``, ``ma.json`` and ``client.yaml`` in ``tmp``."""

    tmp: Path
    state_url: str

    def __post_init__(self) -> None:
        n = f"{os.getpid()}-{next(_ids)}"
        self.crm_name, self.ma_name = f"svc-crm-{n}", f"svc-ma-{n}"
        self.crm_path, self.ma_path = self.tmp / "crm.json", self.tmp / "ma.json"
        self.config_path = self.tmp / "client.yaml"
        self.crm = MemoryData(self.crm_path)
        self.ma = MemoryData(self.ma_path)

    def campaign(self, name: str, people: int, *, start: int = 0, no_email: int = 0) -> str:
        """A CRM campaign with ``people`` contacts (and ``no_email`` members without an email)."""
        cid = self.crm.add_container(name, ContainerKind.CAMPAIGN, [("Sent", False), ("Responded", True)])
        for i in range(start, start + people):
            self.crm.add_member(cid, self.crm.add_person(f"p{i}@example.com", "Contact"), "Sent")
        for _ in range(no_email):
            self.crm.add_member(cid, self.crm.add_person(None, "Contact"), "Sent")
        return cid

    def ma_list(self, name: str) -> str:
        return self.ma.add_container(name, ContainerKind.STATIC_LIST)

    def write(self, rules: list[dict[str, str]], extra: str = "") -> Path:
        text = f"""\
client: acme
state: "{self.state_url}"
connections:
  crm: {{type: memory-crm, store: {self.crm_name}, path: "{self.crm_path}"}}
  ma:  {{type: memory-ma, store: {self.ma_name}, path: "{self.ma_path}"}}
{extra}rules:
""" + "".join(RULE.format(**r) for r in rules)
        self.config_path.write_text(text)
        return self.config_path

    def live_ma(self) -> MemoryData:
        """The MA system as the in-process connectors see it."""
        return memory_store(self.ma_name, self.ma_path)

    def forget(self) -> None:
        drop_memory_store(self.crm_name)
        drop_memory_store(self.ma_name)

    def runs(self, mode: str | None = "sync") -> list[dict[str, Any]]:
        """Every run in the state store (of ``mode``), oldest first."""
        store = Store(self.state_url)
        try:
            return store.runs(limit=1_000_000, mode=mode)[::-1]
        finally:
            store.close()


def at(text: str) -> datetime:
    """``"00:01:00"`` → that time on 2030-01-01 UTC."""
    return datetime.fromisoformat(f"2030-01-01T{text}").replace(tzinfo=UTC)
