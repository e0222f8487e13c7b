"""The JSON Schema of a client file: ``ClientConfig`` with each connector's settings under ``connections``."""

from __future__ import annotations

from typing import Any

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.registry import connector_class, connector_types


def client_file_schema() -> dict[str, Any]:
    # pydantic's defaults are what an editor needs: keys by their alias (a rule's ``from:``, ``to:``), the
    # schema of what is read (mode "validation"), references under ``#/$defs/``.
    schema = ClientConfig.model_json_schema()
    defs = schema.setdefault("$defs", {})
    variants = []
    for type_ in connector_types():
        try:
            settings = connector_class(type_).Settings
        except ImportError:
            continue
        sub = settings.model_json_schema()
        defs.update(sub.pop("$defs", {}))
        name = f"{settings.__name__}_{type_.replace('-', '_')}"
        defs[name] = sub
        variants.append({"$ref": f"#/$defs/{name}"})
    schema["properties"]["connections"] = {
        "type": "object",
        "description": "Named connections; secrets as ${ENV_NAME}.",
        "additionalProperties": {"oneOf": variants},
    }
    # The loader fills these in (the file it read, each rule's line); a file never writes them.
    del schema["properties"]["path"], schema["properties"]["rule_lines"]
    schema["title"] = "campaign-bridge client file"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
