"""The one error tree of campaign-bridge, ordered by what the caller should do.

::

    CampaignBridgeError                  base of everything we raise on purpose
    ├── TransientError                   retry soon (5xx, timeout, reset, garbage body)
    │   └── RateLimitedError             wait ``retry_after`` seconds, then retry
    ├── QuotaExhaustedError              stop the run; the next run resumes (daily limit spent)
    ├── FatalError                       stop; a person must act (bad credentials, missing object)
    │   ├── AuthError                    credentials refused or session not refreshable
    │   ├── ConfigError                  the client file is wrong; lists *every* problem with file:line
    │   ├── LeaseHeldError               another worker runs this rule right now
    │   └── StateStoreError              the state database cannot be opened, read or written (disk full,
    │                                    read-only, damaged, unreachable); says where and what to do

A record the target refuses is not an exception: ``apply_changes`` reports it as a REJECTED
``ChangeOutcome`` (code and vendor message), the run records it and carries on.

Vendor exceptions never pass ``connectors/``: each connector translates them with a table keyed by
status and vendor error code (the kit's ``DEFAULT_TABLE`` extended with its own rows,
``connectors.kit.errors``) and chains the original (``raise ... from exc``).
Messages never contain secrets: connectors build them from status, code and vendor message only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: A credential an HTTP header carries, wherever a vendor's (or a proxy's) words echo it back: the scheme,
#: then the token (Basic: base64 of ``id:secret``; Bearer: the token itself).
# (a token has a digit or a base64 sign: "Basic authentication" is words, not a credential)
_CREDENTIAL = re.compile(r"\b(Basic|Bearer)(\s+)(?=[A-Za-z._~-]*[0-9+/=])[A-Za-z0-9+/=._~-]{8,}", re.IGNORECASE)


def redact_credentials(text: str) -> str:
    """``text`` with every ``Basic …`` and ``Bearer …`` credential replaced by ``[redacted]``: a secret
    travels base64-encoded in a Basic header, where a search for its plain text never finds it."""
    return _CREDENTIAL.sub(r"\1\2[redacted]", text)


class CampaignBridgeError(Exception):
    """Base of every error campaign-bridge raises on purpose."""


class TransientError(CampaignBridgeError):
    """A failure worth retrying as it is: 5xx, timeout, dropped connection, unreadable body."""


class RateLimitedError(TransientError):
    """The vendor asked us to slow down; wait ``retry_after`` seconds before the next call."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExhaustedError(CampaignBridgeError):
    """A daily (or other long-window) allocation is spent: stop now, the next run resumes."""


class FatalError(CampaignBridgeError):
    """Retrying will not help: a person has to change something."""


class AuthError(FatalError):
    """The system refused our credentials, or an expired session could not be renewed."""


class LeaseHeldError(FatalError):
    """Another worker holds this rule's lease; this run did nothing."""


class StateStoreError(FatalError):
    """The state database failed: full, read-only, damaged, empty, unreachable, or of another schema.

    The message names the database (the state file's path, or the URL without its password), says what
    went wrong and what a person can do. Raised by the ``Store`` where the database's own errors surface
    (``sync.store.failures`` holds the table); the database's exception is chained.
    """


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration file, located as precisely as we can."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


class ConfigError(FatalError):
    """The configuration is invalid. ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
