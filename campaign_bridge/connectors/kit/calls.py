"""The call loop every connector's calls go through: retry policy, then credentials, then one renewal.

::

    policy.call(attempt)                    retries TransientError, waits out RateLimitedError
      attempt: handle = login.current()     logs in on first use (once, whichever thread asks first)
               once(handle)                 one request, vendor errors already translated
               on ``expired``:              the vendor refused the handle as expired
                   login.renew(handle)      under a lock; only if ``handle`` is still current, so
                                            threads refused together renew once between them
                   once(login.current())    the same request again, once
                   on ``expired`` again:    AuthError: a fresh handle was refused too

A connector subclasses ``Login`` for its auth flow (``login``; ``renewable``; optionally ``stale``, a
handle known to expire before the vendor says so) and makes every request through ``CallLoop.call``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar

from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.errors import AuthError

H = TypeVar("H")
T = TypeVar("T")


class Login(ABC, Generic[H]):
    """The handle calls use (a session, a client holding a token) and how to get a new one.

    Thread-safe: one login at a time, and a handle refused by several threads is replaced once.
    """

    def __init__(self) -> None:
        self._handle: H | None = None
        # Re-entrant: ``login`` may itself make a call that reaches ``current`` (a token endpoint).
        self._lock = threading.RLock()

    @abstractmethod
    def login(self) -> H:
        """A new handle; raises ``AuthError`` when the vendor refuses the credentials."""

    @property
    def renewable(self) -> bool:
        """Whether ``login`` can replace an expired handle (False for a plain session id or fixed token)."""
        return True

    def stale(self) -> bool:
        """Whether the current handle is known to have expired (say, by its announced lifetime)."""
        return False

    def unrenewable(self, expired: AuthError) -> AuthError:
        """The error raised when the vendor refused a handle that cannot be renewed (``from expired``)."""
        return expired

    def current(self) -> H:
        """The handle to use now, logging in first when there is none or it is ``stale``."""
        with self._lock:
            if self._handle is None or self.stale():
                self._handle = self.login()
            return self._handle

    def renew(self, refused: H, expired: AuthError) -> None:
        """Replace ``refused``, unless another thread already has. Raises ``unrenewable(expired)`` when
        this login cannot renew, and what ``login`` raises."""
        if not self.renewable:
            error = self.unrenewable(expired)
            if error is expired:
                raise expired
            raise error from expired
        with self._lock:
            if self._handle is refused:
                self._handle = self.login()


class CallLoop(Generic[H]):
    """``policy`` → ``login.current()`` → one request → on ``expired``, one renewal and one repeat."""

    def __init__(
        self,
        login: Login[H],
        policy: CallPolicy,
        *,
        expired: type[AuthError],
        refused_fresh: Callable[[AuthError], str],
    ) -> None:
        self.login = login
        self.policy = policy
        self.expired = expired
        self.refused_fresh = refused_fresh

    def call(self, once: Callable[[H], T], *, idempotent: bool = True) -> T:
        """Run ``once(handle)`` under the policy; raises the error tree.

        ``idempotent=False`` makes one attempt only (no retries): a timeout there may have done the work,
        and the next run's read finds it instead of doing it twice. A renewal is not a retry: it happens
        within the attempt, whatever the policy.
        """

        def attempt() -> T:
            handle = self.login.current()
            try:
                return once(handle)
            except self.expired as expired:
                self.login.renew(handle, expired)
            try:
                return once(self.login.current())
            except self.expired as again:
                raise AuthError(self.refused_fresh(again)) from again

        if idempotent:
            return self.policy.call(attempt)
        return attempt()
