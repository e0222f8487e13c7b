"""A ``requests`` transport that sends Salesforce's public hosts to the sandbox.

simple-salesforce builds ``https://{domain}.salesforce.com`` for every login, so a login flow can only
reach a local emulator through the session it is given. ``SandboxAdapter`` rewrites any
``*.salesforce.com`` / ``*.force.com`` URL to the sandbox's address and verifies the sandbox with its
test CA, whatever ``REQUESTS_CA_BUNDLE`` or proxy variables say. Other hosts pass through untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

REWRITTEN_DOMAINS = ("salesforce.com", "force.com")


class SandboxAdapter(HTTPAdapter):
    def __init__(self, target_url: str, ca_bundle: Path) -> None:
        super().__init__()
        target = urlsplit(target_url)
        self._scheme, self._netloc = target.scheme, target.netloc
        self._ca_bundle = str(ca_bundle)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        host = parts.hostname or ""
        if any(host == d or host.endswith("." + d) for d in REWRITTEN_DOMAINS):
            request.url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
            parts = urlsplit(request.url)
        if parts.netloc == self._netloc:
            verify, proxies = self._ca_bundle, {}  # loopback: our CA, never a proxy
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)


def sandbox_session(target_url: str, ca_bundle: Path) -> requests.Session:
    """A session that trusts the sandbox CA and routes Salesforce hosts to ``target_url``."""
    session = requests.Session()
    session.verify = str(ca_bundle)
    session.mount("https://", SandboxAdapter(target_url, ca_bundle))
    return session
