"""The connector kit: what every REST connector stands on, so a new system writes only what is its own.

A connector package (``connectors/<system>/``) builds its client from these parts:

``session``   ``metered_session``: a ``requests.Session`` whose every attempt passes the ``Meter`` with the
              connection's timeout and TLS trust (its ``ca_bundle`` wins over the environment's);
              ``tls_verify``, ``warn_if_unverified``.
``metering``  ``Meter``: a vendor ``guard``, the run's ``ApiBudget`` and header ``observers`` per attempt;
              ``VendorUsage``: the vendor's own daily counters as last reported.
``pacing``    ``SlidingWindowPacer`` / ``FixedWindowPacer`` (``max_in_flight`` caps concurrency);
              ``observe_remaining`` holds when the vendor's own counter says its window is spent.
``calls``     ``Login`` (subclass: ``login``, ``renewable``, ``stale``) and ``CallLoop``: retry policy →
              credentials → one renewal on an expired answer, once between threads.
``errors``    ``DEFAULT_TABLE.extend({(status, code): factory})``: the vendor's rows over the defaults;
              ``Failure`` is what every factory takes; ``requests_failure`` for transport exceptions.

With ``CallPolicy``/``ApiBudget`` (``connectors.policy``), and in ``connectors.base``: ``Connector`` and
its ``Supports*`` abilities, ``settings_as`` (wrong settings are a ``FatalError``), and ``writer_for``.
"""

from __future__ import annotations

from campaign_bridge.connectors.kit.calls import CallLoop, Login
from campaign_bridge.connectors.kit.errors import DEFAULT_TABLE, ErrorTable, Factory, Failure, requests_failure
from campaign_bridge.connectors.kit.metering import Meter, VendorUsage
from campaign_bridge.connectors.kit.pacing import FixedWindowPacer, Pacer, SlidingWindowPacer, observe_remaining
from campaign_bridge.connectors.kit.session import MeteredAdapter, metered_session, tls_verify, warn_if_unverified
from campaign_bridge.connectors.policy import ApiBudget, CallPolicy

__all__ = [
    "DEFAULT_TABLE",
    "ApiBudget",
    "CallLoop",
    "CallPolicy",
    "ErrorTable",
    "Factory",
    "Failure",
    "FixedWindowPacer",
    "Login",
    "Meter",
    "MeteredAdapter",
    "Pacer",
    "SlidingWindowPacer",
    "VendorUsage",
    "metered_session",
    "observe_remaining",
    "requests_failure",
    "tls_verify",
    "warn_if_unverified",
]
