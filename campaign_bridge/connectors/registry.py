"""The explicit map from a connection's ``type:`` to its connector class.

Entries are import paths, loaded on first use, so a client file that only uses HubSpot never imports
simple-salesforce (and start-up stays fast).
"""

from __future__ import annotations

import importlib

from campaign_bridge.connectors.base import ConnectionSettings, Connector

CONNECTOR_TYPES: dict[str, str] = {
    "salesforce": "campaign_bridge.connectors.salesforce:SalesforceConnector",
    "hubspot": "campaign_bridge.connectors.hubspot:HubSpotConnector",
    "memory-crm": "campaign_bridge.connectors.memory:MemoryCRM",
    "memory-ma": "campaign_bridge.connectors.memory:MemoryMA",
}


def connector_class(type_: str) -> type[Connector]:
    """The connector class registered for ``type_``; ``KeyError`` when there is none."""
    module_name, _, attr = CONNECTOR_TYPES[type_].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    assert isinstance(cls, type)
    assert issubclass(cls, Connector)
    return cls


def build_connector(name: str, settings: ConnectionSettings) -> Connector:
    """A connector for the validated ``settings`` of connection ``name``."""
    return connector_class(settings.type)(name, settings)
