"""The HTTP session of a connector built on ``requests``: TLS trust from the connection, metering mounted.

``metered_session`` wraps every transport adapter of a ``requests.Session`` in a ``MeteredAdapter``, so
whatever the client library sends (logins, REST, bulk jobs, retries) passes the connection's ``Meter``.
The adapter also applies the connection's timeout and TLS trust to each request: requests lets
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` in the environment override ``Session.verify``, and the
connection's own ``ca_bundle`` must win, so it is passed per request here rather than set on the session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter

from campaign_bridge.connectors.kit.metering import Meter

#: A short, stable name for the API a URL path belongs to (the budget's ``by_endpoint`` key).
EndpointOf = Callable[[str], str]
#: What ``requests`` takes as ``verify``: a CA bundle path, False (no check), or None (its default).
Verify = str | bool | None


def tls_verify(ca_bundle: str | None, verify_tls: bool) -> Verify:
    """The ``verify`` of every request: the connection's CA bundle, else False when verification is off,
    else None (requests' default trust)."""
    return ca_bundle or (None if verify_tls else False)


def warn_if_unverified(log: logging.Logger, connection: str, verify: Verify, *, carrying: str, hint: str = "") -> None:
    """Log a warning, once per client, when ``verify`` switches certificate checks off."""
    if verify is not False:
        return
    log.warning(
        "%s: TLS certificate verification is OFF (verify_tls: false): anyone on the network path can read and "
        "change this connection's traffic, %s included%s",
        connection,
        carrying,
        hint,
    )


class MeteredAdapter(BaseAdapter):
    """Wraps a session's transport adapter: ``meter.before`` each send, ``meter.after`` each answer,
    and the connection's timeout (unless the caller gave one) and TLS trust on every request."""

    def __init__(
        self, inner: BaseAdapter, meter: Meter, *, endpoint_of: EndpointOf, timeout: float, verify: Verify
    ) -> None:
        super().__init__()
        self.inner, self.meter, self.endpoint_of, self.timeout, self.verify = inner, meter, endpoint_of, timeout, verify

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.meter.before(self.endpoint_of(urlsplit(request.url or "").path))
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        if self.verify is not None:
            kwargs["verify"] = self.verify
        response = self.inner.send(request, **kwargs)
        self.meter.after(response.headers)
        return response

    def close(self) -> None:
        self.inner.close()


def metered_session(
    meter: Meter,
    *,
    endpoint_of: EndpointOf,
    timeout: float,
    verify: Verify,
    session: requests.Session | None = None,
) -> requests.Session:
    """``session`` (or a new one) with every mounted adapter metered; adapters are wrapped, never replaced,
    so a test's mocked transport stays in place."""
    session = session or requests.Session()
    for prefix, adapter in list(session.adapters.items()):
        if not isinstance(adapter, MeteredAdapter):
            session.mount(
                prefix, MeteredAdapter(adapter, meter, endpoint_of=endpoint_of, timeout=timeout, verify=verify)
            )
    return session
