"""The Salesforce sandbox as ``sandbox serve``, saved state and the demo see it (``SANDBOX``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from campaign_bridge.mapping.semantics import Role

from ..spec import SandboxFiles, SandboxSpec
from .demo import seed_demo
from .sandbox import SalesforceSandbox
from .saved import dump_salesforce, load_salesforce

#: The REST API version the Salesforce sandbox is addressed with (simple-salesforce's default).
API_VERSION = "59.0"


def connection_info(sandbox: SalesforceSandbox, files: SandboxFiles) -> dict[str, Any]:
    """The instance (its own login host and My Domain), its CA, and a block for every login flow. The
    JWT flow names a key file, written beside the CA the first time."""
    creds = sandbox.credentials
    key_file = sandbox.ca_bundle.parent / "jwt-key.pem"
    if not key_file.exists():
        _write_private(key_file, creds["jwt_private_key_pem"])
    url = sandbox.instance_url
    return {
        "instance_url": url,
        "login_url": url,
        "token_url": f"{url}/services/oauth2/token",
        "soap_login_url": f"{url}/services/Soap/u/{API_VERSION}",
        "api_version": API_VERSION,
        "ca_bundle": str(sandbox.ca_bundle),
        "auth": {
            "client_credentials": {
                "method": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
            "password": {
                "method": "password",
                "username": creds["username"],
                "password": creds["password"],
                "security_token": creds["security_token"],
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
            "jwt_bearer": {
                "method": "jwt_bearer",
                "client_id": creds["client_id"],
                "username": creds["username"],
                "private_key_file": str(key_file),
            },
            "session": {"method": "session", "session_id": creds["session_id"]},
        },
    }


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


SANDBOX: SandboxSpec[SalesforceSandbox] = SandboxSpec(
    name="salesforce",
    role=Role.CRM,
    build=lambda port, files: SalesforceSandbox(tls=files.tls(), port=port),
    connection_info=connection_info,
    seed_demo=seed_demo,
    dump=lambda sandbox: dump_salesforce(sandbox.state),
    load=lambda sandbox, data: load_salesforce(sandbox.state, data),
)
