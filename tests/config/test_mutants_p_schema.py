"""The JSON Schema ``campaign-bridge schema`` prints for editors: what completion and checking rely on.

An editor offers each connection type as one variant of a connection, follows every ``$ref`` to a
definition, shows secrets as passwords it never suggests, and offers only keys a file may write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from campaign_bridge.config import schema as schema_module
from campaign_bridge.config.schema import client_file_schema
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.registry import connector_class, connector_types


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/$defs/"), ref
    found = schema["$defs"].get(ref.removeprefix("#/$defs/"))
    assert isinstance(found, dict), f"{ref} leads nowhere"
    return found


def test_the_schema_is_titled_and_names_its_draft() -> None:
    schema = client_file_schema()
    assert schema["title"] == "campaign-bridge client file"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_each_connection_type_is_one_variant_of_a_named_connection() -> None:
    connections = client_file_schema()["properties"]["connections"]
    variants = connections["additionalProperties"]["oneOf"]
    assert connections == {
        "type": "object",
        "description": "Named connections; secrets as ${ENV_NAME}.",
        "additionalProperties": {"oneOf": variants},
    }
    assert len(variants) == len(connector_types())
    # a definition's name is an identifier (code generators make classes of them): no '-' of the type
    assert {"$ref": "#/$defs/MemorySettings_memory_crm"} in variants
    assert {"$ref": "#/$defs/SalesforceSettings_salesforce"} in variants


def test_every_reference_leads_to_a_definition() -> None:
    schema = client_file_schema()
    refs = set(_refs(schema))
    assert "#/$defs/PrivateAppAuth" in refs  # a connector's own definitions are among them
    for ref in refs:
        _resolve(schema, ref)


def test_a_connections_secret_is_a_password_the_editor_never_shows() -> None:
    schema = client_file_schema()
    hubspot = _resolve(schema, "#/$defs/HubSpotSettings_hubspot")
    assert hubspot["properties"]["type"]["const"] == "hubspot"
    private_app = _resolve(schema, hubspot["properties"]["auth"]["discriminator"]["mapping"]["private_app"])
    assert private_app["properties"]["token"] == {
        "format": "password",
        "title": "Token",
        "type": "string",
        "writeOnly": True,
    }


def test_only_keys_a_file_may_write_are_offered_and_by_the_name_the_file_writes() -> None:
    schema = client_file_schema()
    assert list(schema["properties"]) == ["client", "state", "connections", "defaults", "rules", "alerts"]
    rule = _resolve(schema, schema["properties"]["rules"]["items"]["$ref"])
    assert {"from", "to"} <= set(rule["properties"])
    assert rule["required"] == ["name", "from", "to"]


def test_a_connector_whose_library_is_missing_is_left_out_and_the_others_still_offered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def without_hubspot(type_: object) -> type[Connector]:
        if type_ == "hubspot":
            raise ImportError("No module named 'hubspot'")
        return connector_class(type_)

    monkeypatch.setattr(schema_module, "connector_class", without_hubspot)
    variants = client_file_schema()["properties"]["connections"]["additionalProperties"]["oneOf"]
    assert {"$ref": "#/$defs/HubSpotSettings_hubspot"} not in variants
    assert len(variants) == len(connector_types()) - 1
    assert {"$ref": "#/$defs/SalesforceSettings_salesforce"} in variants
