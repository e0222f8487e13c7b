"""A faithful local emulator of Salesforce Account Engagement (Pardot) API v5, served over HTTP on loopback,
with the Salesforce login endpoints of its org.

``PardotSandbox`` is the entry point; ``sb.state`` is the business unit (``PardotState``) with its seeding
helpers. Module map: ``state`` (records, limits), ``objects`` (the v5 query machinery and fields), ``app``
(login, headers, limits, routes, exports), ``errors`` (v5 codes), ``spec``/``saved`` (serve, demo, saved state).
"""

from .sandbox import PardotSandbox
from .spec import SANDBOX
from .state import PardotState

__all__ = ["SANDBOX", "PardotSandbox", "PardotState"]
