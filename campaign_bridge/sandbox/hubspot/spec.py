"""The HubSpot sandbox as ``sandbox serve``, saved state and the demo see it (``SANDBOX``)."""

from __future__ import annotations

from typing import Any

from campaign_bridge.mapping.semantics import Role

from ..spec import SandboxFiles, SandboxSpec
from .demo import seed_demo
from .sandbox import HubSpotSandbox
from .saved import dump_hubspot, load_hubspot


def connection_info(sandbox: HubSpotSandbox, files: SandboxFiles) -> dict[str, Any]:
    """The base URL, the OAuth token URL, and a private-app token and an OAuth app (with a refresh token)."""
    url = sandbox.url
    return {
        "base_url": url,
        "token_url": f"{url}/oauth/v1/token",
        "auth": {
            "private_app": {"method": "private_app", "token": sandbox.token},
            "oauth": {"method": "oauth", **sandbox.oauth},
        },
    }


SANDBOX: SandboxSpec[HubSpotSandbox] = SandboxSpec(
    name="hubspot",
    role=Role.MA,
    build=lambda port, files: HubSpotSandbox(port=port),
    connection_info=connection_info,
    seed_demo=seed_demo,
    dump=dump_hubspot,
    load=load_hubspot,
)
