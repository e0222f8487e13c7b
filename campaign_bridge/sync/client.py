"""A client's parts, opened together: its state store and one connector per connection.

Every caller that runs rules (the CLI, ``serve``, the reconciler, the demo) opens them here, so a connector
is always closed with its store, and each caller passes the parts on: ``Engine(config, client.store,
client.connectors)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.sync.store.store import Store


@dataclass
class Client:
    """One client file's configuration and its open parts."""

    config: ClientConfig
    store: Store
    connectors: dict[str, Connector]


@contextmanager
def open_client(config: ClientConfig) -> Iterator[Client]:
    """The client's state store (migrated) and one connector per connection; closed on exit."""
    store = Store(config.state_url)
    connectors = {name: build_connector(name, settings) for name, settings in config.connections.items()}
    try:
        yield Client(config, store, connectors)
    finally:
        for c in connectors.values():
            c.close()
        store.close()
