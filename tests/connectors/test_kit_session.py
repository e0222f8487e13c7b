"""The kit's metered session: every attempt charged before it leaves, the vendor's guard able to stop
it, answers shown to the observers, and the connection's own TLS trust and timeout on every request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from campaign_bridge.connectors.kit.metering import Meter
from campaign_bridge.connectors.kit.session import metered_session, tls_verify
from campaign_bridge.connectors.policy import ApiBudget
from campaign_bridge.errors import QuotaExhaustedError

CONNECTION_CA = "/etc/acme/connection-ca.pem"
ENVIRONMENT_CA = "/etc/ssl/environment-ca.pem"


class _Recorder(BaseAdapter):
    """A transport that answers 200 and remembers what each send was given."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(kwargs)
        response = requests.Response()
        response.status_code = 200
        response.headers["X-Calls-Left"] = "41"
        response.request = request
        return response

    def close(self) -> None:
        pass


def _session(meter: Meter, verify: str | bool | None) -> tuple[requests.Session, _Recorder]:
    recorder = _Recorder()
    raw = requests.Session()
    raw.mount("https://", recorder)
    session = metered_session(meter, endpoint_of=lambda path: path.strip("/"), timeout=12.5, verify=verify, session=raw)
    return session, recorder


def test_the_connections_ca_bundle_wins_over_the_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ENVIRONMENT_CA)
    monkeypatch.setenv("CURL_CA_BUNDLE", ENVIRONMENT_CA)
    session, recorder = _session(Meter(ApiBudget(10, "crm")), tls_verify(CONNECTION_CA, verify_tls=True))
    session.get("https://crm.example.com/query")
    assert recorder.sent[0]["verify"] == CONNECTION_CA
    assert recorder.sent[0]["timeout"] == 12.5


def test_without_a_bundle_of_its_own_a_connection_keeps_the_default_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ENVIRONMENT_CA)
    session, recorder = _session(Meter(ApiBudget(10, "crm")), tls_verify(None, verify_tls=True))
    session.get("https://crm.example.com/query")
    assert recorder.sent[0]["verify"] == ENVIRONMENT_CA  # requests' own choice, untouched
    assert tls_verify(None, verify_tls=False) is False


def test_every_attempt_is_charged_and_every_answer_observed() -> None:
    seen: list[Mapping[str, str]] = []
    budget = ApiBudget(2, "crm")
    session, recorder = _session(Meter(budget, observers=[seen.append]), None)
    session.get("https://crm.example.com/query")
    session.post("https://crm.example.com/jobs")
    with pytest.raises(QuotaExhaustedError, match="budget of 2 calls"):
        session.get("https://crm.example.com/query")
    assert len(recorder.sent) == 2  # the third never left
    assert budget.counts() == (2, {"query": 1, "jobs": 1})
    assert [h["X-Calls-Left"] for h in seen] == ["41", "41"]


def test_the_vendors_guard_stops_a_call_before_it_is_charged() -> None:
    def reserve(endpoint: str) -> None:
        if endpoint != "login":
            raise QuotaExhaustedError("crm: the account's reserve is reached")

    budget = ApiBudget(10, "crm")
    session, recorder = _session(Meter(budget, guard=reserve), None)
    session.post("https://crm.example.com/login")
    with pytest.raises(QuotaExhaustedError, match="reserve"):
        session.get("https://crm.example.com/query")
    assert budget.counts() == (1, {"login": 1})
    assert len(recorder.sent) == 1
