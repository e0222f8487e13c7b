"""Where a rule writes: the target connector, its container, and the member status to set."""

from __future__ import annotations

from dataclasses import dataclass

from campaign_bridge.connectors.base import Connector
from campaign_bridge.mapping.model import Container


@dataclass(frozen=True, slots=True)
class Target:
    """Where a rule writes: the target connector, its container, and the member status to set (if any)."""

    connector: Connector
    container: Container
    status: str | None
