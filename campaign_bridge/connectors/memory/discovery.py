"""What the memory systems tell ``discover`` and ``doctor`` (``connectors.discovery.SupportsDiscovery``).

They have no users, no allowance and no clock of their own: every container's members are counted from the
data (one call each, as a count query would cost), every need is granted (there is nobody to refuse it), and
the allowance and server time are unknown (``None``), which ``doctor`` reports as such.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from campaign_bridge.connectors.discovery import Allowance, Grant, Need
from campaign_bridge.connectors.memory.data import MemoryData
from campaign_bridge.mapping.model import Container


class MemoryDiscovery:
    """The ``SupportsDiscovery`` part of the memory connectors (a mixin over their ``data``)."""

    data: MemoryData

    def _call(self, pages: int = 1) -> None:
        """Counts one call (and raises a queued fault): the connector's own, which overrides this."""

    def count_members(self, containers: Sequence[Container]) -> dict[str, int]:
        """Live members of each container: one call each."""
        counts: dict[str, int] = {}
        for c in containers:
            self._call()
            with self.data.lock:
                held = self.data.containers.get(c.id)
                if held is not None:
                    counts[c.id] = sum(1 for m in held.members.values() if not m.removed)
        return counts

    def check_access(self, needs: Collection[Need]) -> list[Grant]:
        """Every need granted: an in-memory system has no permissions to withhold."""
        return [Grant(need, True, "in-memory system: no permissions to withhold") for need in needs]

    def allowance(self) -> Allowance | None:
        return None

    def server_time(self) -> datetime | None:
        return None
