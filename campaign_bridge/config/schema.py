"""The JSON Schema of a client file: ``ClientConfig`` with each connector's settings under ``connections``."""

from __future__ import annotations

from typing import Any

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.registry import connector_class, connector_types


def client_file_schema() -> dict[str, Any]:
    schema = ClientConfig.model_json_schema(by_alias=True, mode="validation")
    defs = schema.setdefault("$defs", {})
    variants = []
    for type_ in connector_types():
        try:
            settings = connector_class(type_).Settings
        except ImportError:
            continue
        sub = settings.model_json_schema(by_alias=True, mode="validation", ref_template="#/$defs/{model}")
        defs.update(sub.pop("$defs", {}))
        name = f"{settings.__name__}_{type_.replace('-', '_')}"
        defs[name] = sub
        variants.append({"$ref": f"#/$defs/{name}"})
    schema["properties"]["connections"] = {
        "type": "object",
        "description": "Named connections; secrets as ${ENV_NAME}.",
        "additionalProperties": {"oneOf": variants},
    }
    schema["properties"].pop("path", None)
    schema["properties"].pop("rule_lines", None)
    schema["title"] = "campaign-bridge client file"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
