"""The kit's call loop: retries under the policy, one renewal of an expired handle (once between
threads that were refused together), and clear errors when renewing cannot help."""

from __future__ import annotations

import itertools

import pytest

from campaign_bridge.connectors.kit.calls import CallLoop, Login
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.errors import AuthError, TransientError


class Expired(AuthError):
    """The vendor said the handle expired."""


class _Tokens(Login[str]):
    """Hands out token-1, token-2… and counts the logins."""

    def __init__(self, *, renewable: bool = True) -> None:
        super().__init__()
        self._numbers = itertools.count(1)
        self._renewable = renewable
        self.logins = 0

    def login(self) -> str:
        self.logins += 1
        return f"token-{next(self._numbers)}"

    @property
    def renewable(self) -> bool:
        return self._renewable

    def unrenewable(self, expired: AuthError) -> AuthError:
        return AuthError("a fixed token cannot be renewed; supply a new one")


class _Vendor:
    """Accepts only the tokens in ``valid``; fails with ``TransientError`` ``flaky`` times first."""

    def __init__(self, valid: set[str], flaky: int = 0) -> None:
        self.valid = valid
        self.flaky = flaky
        self.seen: list[str] = []

    def __call__(self, token: str) -> str:
        self.seen.append(token)
        if self.flaky:
            self.flaky -= 1
            raise TransientError("503")
        if token not in self.valid:
            raise Expired(f"{token} expired")
        return "ok"


def _loop(login: _Tokens, attempts: int = 3) -> CallLoop[str]:
    return CallLoop(
        login,
        CallPolicy(attempts=attempts, sleep=lambda _: None),
        expired=Expired,
        refused_fresh=lambda again: f"the vendor refused a fresh token: {again}",
    )


def test_an_expired_handle_is_renewed_once_and_the_request_repeated() -> None:
    login = _Tokens()
    vendor = _Vendor({"token-2"})
    assert _loop(login).call(vendor) == "ok"
    assert vendor.seen == ["token-1", "token-2"]
    assert login.logins == 2


def test_a_fresh_handle_refused_too_is_an_auth_error_not_a_retry() -> None:
    login = _Tokens()
    vendor = _Vendor(set())
    with pytest.raises(AuthError, match="refused a fresh token: token-2 expired"):
        _loop(login).call(vendor)
    assert vendor.seen == ["token-1", "token-2"]


def test_a_handle_that_cannot_be_renewed_says_what_to_do() -> None:
    login = _Tokens(renewable=False)
    with pytest.raises(AuthError, match="cannot be renewed; supply a new one") as caught:
        _loop(login).call(_Vendor(set()))
    assert isinstance(caught.value.__cause__, Expired)
    assert login.logins == 1


def test_threads_refused_with_the_same_handle_renew_it_once() -> None:
    login = _Tokens()
    refused = login.current()
    login.renew(refused, Expired("first thread"))
    login.renew(refused, Expired("second thread, refused with the same token"))
    assert login.logins == 2
    assert login.current() == "token-2"


def test_transient_failures_are_retried_and_a_renewal_is_not_one() -> None:
    login = _Tokens()
    vendor = _Vendor({"token-2"}, flaky=2)
    assert _loop(login, attempts=3).call(vendor) == "ok"
    assert vendor.seen == ["token-1", "token-1", "token-1", "token-2"]


def test_a_call_that_is_not_idempotent_is_attempted_once() -> None:
    vendor = _Vendor({"token-1"}, flaky=1)
    with pytest.raises(TransientError):
        _loop(_Tokens()).call(vendor, idempotent=False)
    assert vendor.seen == ["token-1"]
