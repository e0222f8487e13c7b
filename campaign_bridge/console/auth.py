"""Who may use the console, and as what: logins, sessions, roles and CSRF.

Three ways in, any of them enough (``AuthSettings``):

* users kept in the state store (``campaign-bridge ui FILE --add-user NAME --role ROLE``), their passwords
  hashed with Argon2 (argon2-cffi: a maintained implementation of the password-hashing competition's
  winner, rather than a hand-made scheme);
* one admin token from the environment (``CAMPAIGN_BRIDGE_CONSOLE_TOKEN``), typed into the login form;
* a reverse proxy that authenticates people (SSO) and names them in a header (``--auth-header``): only when
  asked for, since anyone reaching the port could send that header. The role is the user's in the store,
  else ``viewer``.

A login starts a session: a random cookie (``HttpOnly``, ``SameSite=Strict``), of which the store keeps only
the SHA-256. Every change is a POST carrying the session's CSRF token (derived from the cookie, so nothing
more is kept) and is refused without it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from campaign_bridge.sync.store.console import User
from campaign_bridge.sync.store.store import Store

#: The environment variable holding the single admin token (optional).
TOKEN_ENV = "CAMPAIGN_BRIDGE_CONSOLE_TOKEN"
#: The session cookie's name.
COOKIE = "cb_session"
#: How long a session lasts without a new login: a working day.
SESSION_HOURS = 12
#: The name the admin token logs in as (in the audit log).
TOKEN_USER = "admin-token"

#: Failed logins from one address within ``THROTTLE_SECONDS`` before its logins are refused for that long.
MAX_FAILURES = 10
THROTTLE_SECONDS = 15 * 60

_hasher = PasswordHasher()


class LoginThrottle:
    """Failed logins per client address: after ``MAX_FAILURES`` within ``THROTTLE_SECONDS`` that address's
    logins are refused until the oldest failure is that old (guessing passwords or the token is slow)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _recent(self, address: str) -> deque[float]:
        now = self._clock()
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - THROTTLE_SECONDS:
            failures.popleft()
        return failures

    def wait(self, address: str) -> int:
        """Seconds until ``address`` may try again (0: now)."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < MAX_FAILURES:
                return 0
            return max(1, int(failures[0] + THROTTLE_SECONDS - self._clock()))

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._clock())


class Role(IntEnum):
    """What a user may do; each role may do what the ones below it may."""

    VIEWER = 1  # read every page, download CSV
    OPERATOR = 2  # run now, preview plans, approve/discard held plans, retry, repair
    ADMIN = 3  # edit client files

    @classmethod
    def named(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r}: viewer, operator or admin") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """How people log in. ``token``: the admin token (None: no token login); ``header``: the reverse
    proxy's user header (None: not trusted)."""

    token: str | None = None
    header: str | None = None

    @classmethod
    def from_environment(cls, header: str | None = None) -> AuthSettings:
        return cls(token=os.environ.get(TOKEN_ENV) or None, header=header)


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person behind a request."""

    name: str
    role: Role
    csrf: str

    def may(self, role: Role) -> bool:
        return self.role >= role


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(store: Store, name: str, password: str) -> User | None:
    """The user, when ``password`` is theirs."""
    user = store.user(name)
    if user is None:
        _hasher.hash(password)  # as slow as a real check: the time does not tell which names exist
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def check_token(settings: AuthSettings, token: str) -> bool:
    return settings.token is not None and hmac.compare_digest(settings.token.encode(), token.encode())


def token_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def csrf_token(cookie: str) -> str:
    """The CSRF token of a session: a digest of its cookie (which a page of another site cannot read)."""
    return hashlib.sha256(b"csrf:" + cookie.encode()).hexdigest()


def start_session(store: Store, user: str, role: Role, now: datetime | None = None) -> str:
    """A new session for ``user``; its cookie value."""
    now = now or datetime.now(UTC)
    cookie = secrets.token_urlsafe(32)
    store.start_session(token_hash(cookie), user, role.label, now, now + timedelta(hours=SESSION_HOURS))
    return cookie


def session_viewer(store: Store, cookie: str | None, now: datetime | None = None) -> Viewer | None:
    if not cookie:
        return None
    user = store.session(token_hash(cookie), now or datetime.now(UTC))
    if user is None:
        return None
    return Viewer(user.name, Role.named(user.role), csrf_token(cookie))
