"""Both sandboxes started together, optionally loaded from a folder and saved back to it.

A folder holds ``salesforce.json`` and ``hubspot.json`` (see ``saved.py``) with the ports last used, and
``tls/`` with the Salesforce sandbox's CA and certificate. Started again on that folder, the sandboxes
come back with the same records, credentials, CA and (when free) ports, so a client file written
against them keeps working.

``connection_info()`` is everything a client needs to connect: what ``campaign-bridge sandbox serve``
prints. Its ``auth`` blocks are shaped like a client file's connection ``auth:`` blocks.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, TypeVar

from campaign_bridge.sandbox.http import TlsFiles, make_tls
from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sandbox.saved import (
    dump_hubspot,
    dump_salesforce,
    load_hubspot,
    load_salesforce,
    read_json,
    write_json,
)

SALESFORCE_FILE, HUBSPOT_FILE, TLS_FOLDER = "salesforce.json", "hubspot.json", "tls"
#: The REST API version the Salesforce sandbox is addressed with (simple-salesforce's default).
SALESFORCE_API_VERSION = "59.0"

T = TypeVar("T")


class SandboxPair:
    """A Salesforce and a HubSpot sandbox on loopback. ``folder``: load from and save to it (None: memory only).

    Construction binds the ports (raises ``ValueError`` for an unreadable state file); ``start()`` serves.
    ``restored`` says whether the state came from the folder (else the sandboxes are empty, to be seeded).
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        sf_saved = _read(folder / SALESFORCE_FILE) if folder else None
        hs_saved = _read(folder / HUBSPOT_FILE) if folder else None
        self.restored = sf_saved is not None and hs_saved is not None
        #: The URLs the saved sandboxes last had (None when not restored): clients may still name them.
        self.saved_urls: tuple[str, str] | None = None
        if self.restored:
            self.saved_urls = (f"https://127.0.0.1:{_port(sf_saved)}", f"http://127.0.0.1:{_port(hs_saved)}")
        tls = _tls_files(folder / TLS_FOLDER if folder else Path(tempfile.mkdtemp(prefix="campaign-bridge-tls-")))
        self.salesforce = _bind(lambda port: SalesforceSandbox(tls=tls, port=port), _port(sf_saved))
        self.hubspot = _bind(lambda port: HubSpotSandbox(port=port), _port(hs_saved))
        if self.restored:
            assert sf_saved is not None
            assert hs_saved is not None
            load_salesforce(self.salesforce.state, sf_saved)
            load_hubspot(self.hubspot, hs_saved)
        self.jwt_key_file = tls.ca_bundle.parent / "jwt-key.pem"

    def start(self) -> Self:
        self.salesforce.start()
        self.hubspot.start()
        return self

    def stop(self) -> None:
        self.salesforce.stop()
        self.hubspot.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def save(self) -> None:
        """Write both sandboxes' state (and their ports) to the folder. Needs a folder."""
        if self.folder is None:
            raise ValueError("this sandbox pair has no folder to save to")
        write_json(
            self.folder / SALESFORCE_FILE,
            {**dump_salesforce(self.salesforce.state), "port": self.salesforce.server.port},
        )
        write_json(self.folder / HUBSPOT_FILE, {**dump_hubspot(self.hubspot), "port": self.hubspot.server.port})

    def connection_info(self) -> dict[str, Any]:
        """URLs and credentials for every auth method each sandbox supports (secrets included: it is a sandbox)."""
        sf, hs = self.salesforce, self.hubspot
        creds = sf.credentials
        if not self.jwt_key_file.exists():
            _write_private(self.jwt_key_file, creds["jwt_private_key_pem"])
        url = sf.instance_url
        return {
            "salesforce": {
                "instance_url": url,
                "login_url": url,
                "token_url": f"{url}/services/oauth2/token",
                "soap_login_url": f"{url}/services/Soap/u/{SALESFORCE_API_VERSION}",
                "api_version": SALESFORCE_API_VERSION,
                "ca_bundle": str(sf.ca_bundle),
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
                        "private_key_file": str(self.jwt_key_file),
                    },
                    "session": {"method": "session", "session_id": creds["session_id"]},
                },
            },
            "hubspot": {
                "base_url": hs.url,
                "token_url": f"{hs.url}/oauth/v1/token",
                "auth": {
                    "private_app": {"method": "private_app", "token": hs.token},
                    "oauth": {"method": "oauth", **hs.oauth},
                },
            },
        }


def _read(path: Path) -> dict[str, Any] | None:
    return read_json(path) if path.exists() else None


def _port(saved: dict[str, Any] | None) -> int:
    port = (saved or {}).get("port")
    return port if isinstance(port, int) else 0


def _bind(make: Callable[[int], T], preferred: int) -> T:
    """A sandbox on ``preferred`` when that port is free, else on any free one."""
    if preferred:
        try:
            return make(preferred)
        except OSError:
            pass
    return make(0)


def _tls_files(folder: Path) -> TlsFiles:
    """The CA and certificate kept in ``folder``, generated there the first time."""
    files = TlsFiles(folder / "ca.pem", folder / "server-chain.pem", folder / "server-key.pem")
    if all(p.exists() for p in (files.ca_bundle, files.cert_chain, files.private_key)):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    return make_tls(folder)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
