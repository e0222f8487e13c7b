"""Single HTTP exchanges of the Salesforce connector, answered by ``responses``: the error table, the
retry policy, the API budget and the org reserve, as a user of the connector sees them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
import responses

from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.connectors.salesforce import SalesforceConnector, SalesforceSettings
from campaign_bridge.connectors.salesforce.errors import translate_status
from campaign_bridge.errors import AuthError, FatalError, QuotaExhaustedError, RateLimitedError, TransientError
from campaign_bridge.mapping.model import PersonDraft

INSTANCE = "https://acme.my.salesforce.com"
QUERY = re.compile(re.escape(INSTANCE) + r"/services/data/v59\.0/query/.*")
TOKEN = "00Dxx!SESSION-SECRET-TOKEN"
EMPTY = {"totalSize": 0, "done": True, "records": []}


def _connector(api_budget: int = 100, **auth: object) -> SalesforceConnector:
    settings = SalesforceSettings.model_validate(
        {"instance_url": INSTANCE, "api_budget": api_budget, "auth": auth or {"method": "session", "session_id": TOKEN}}
    )
    return SalesforceConnector("sf", settings, policy=CallPolicy(attempts=3, sleep=lambda _: None))


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_transient_503_is_retried_and_every_attempt_counted(http: responses.RequestsMock) -> None:
    http.get(QUERY, status=503, body="<html>Service Unavailable</html>", content_type="text/html")
    http.get(QUERY, json=EMPTY, headers={"Sforce-Limit-Info": "api-usage=18/15000"})
    conn = _connector()
    assert conn.lookup_people(["a@example.com"]) == {}
    usage = conn.usage()
    assert usage.calls == 3  # the 503, its retry, then the Lead query
    assert usage.by_endpoint == {"query": 3}
    assert (usage.used, usage.limit) == (18, 15000)


def test_daily_limit_stops_the_run_with_a_clear_message(http: responses.RequestsMock) -> None:
    body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    http.get(QUERY, status=403, json=body)
    conn = _connector()
    with pytest.raises(QuotaExhaustedError, match="daily API limit is spent.*next run resumes"):
        conn.lookup_people(["a@example.com"])
    assert conn.usage().calls == 1  # never retried


def test_concurrent_long_requests_are_waited_out(http: responses.RequestsMock) -> None:
    body = [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    http.get(QUERY, status=403, json=body)
    http.get(QUERY, json=EMPTY)
    assert _connector().lookup_people(["a@example.com"]) == {}


def test_stops_before_the_orgs_last_five_percent(http: responses.RequestsMock) -> None:
    http.get(QUERY, json=EMPTY, headers={"Sforce-Limit-Info": "api-usage=9500/10000"})
    conn = _connector()
    with pytest.raises(QuotaExhaustedError, match="9500 of its 10000 daily API calls"):
        conn.lookup_people(["a@example.com"])  # Contact query answers, the Lead query is refused
    assert conn.usage().calls == 1


def test_run_budget_is_enforced(http: responses.RequestsMock) -> None:
    http.get(QUERY, json=EMPTY)
    conn = _connector(api_budget=1)
    with pytest.raises(QuotaExhaustedError, match="API budget of 1 calls"):
        conn.lookup_people(["a@example.com"])


def test_garbage_body_is_transient_then_gives_up(http: responses.RequestsMock) -> None:
    http.get(QUERY, body="<html>502 Bad Gateway</html>", content_type="text/html")
    conn = _connector()
    with pytest.raises(TransientError, match="not JSON"):
        conn.lookup_people(["a@example.com"])
    assert conn.usage().calls == 3


def test_malformed_query_is_fatal_and_names_the_problem_not_the_token(http: responses.RequestsMock) -> None:
    body = [{"message": "unexpected token: 'FORM'", "errorCode": "MALFORMED_QUERY"}]
    http.get(QUERY, status=400, json=body)
    with pytest.raises(FatalError, match="query answered 400 MALFORMED_QUERY: unexpected token.*malformed") as caught:
        _connector().lookup_people(["a@example.com"])
    assert TOKEN not in str(caught.value)


def test_expired_plain_session_says_so(http: responses.RequestsMock) -> None:
    http.get(QUERY, status=401, json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    with pytest.raises(AuthError, match="session has expired.*cannot renew") as caught:
        _connector().lookup_people(["a@example.com"])
    assert TOKEN not in str(caught.value)


def test_refused_login_names_the_vendor_error_without_secrets(http: responses.RequestsMock) -> None:
    http.post(
        f"{INSTANCE}/services/oauth2/token",
        status=400,
        json={"error": "invalid_client", "error_description": "invalid client credentials"},
    )
    conn = _connector(method="client_credentials", client_id="cid", client_secret="TOP-SECRET")
    with pytest.raises(AuthError, match="invalid_client: invalid client credentials") as caught:
        conn.list_containers()
    assert "TOP-SECRET" not in str(caught.value)
    sent = http.calls[0].request
    assert sent.headers["Authorization"].startswith("Basic ")
    assert "TOP-SECRET" not in (sent.body or "")


def test_soap_login_fault_is_an_auth_error(http: responses.RequestsMock) -> None:
    fault = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/'
        'envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
        "<faultcode>INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security "
        "token; or user locked out.</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    http.post("https://login.salesforce.com/services/Soap/u/59.0", status=500, body=fault, content_type="text/xml")
    conn = _connector(method="password", username="u@acme.com", password="PW-SECRET", security_token="TOK")
    with pytest.raises(AuthError, match="INVALID_LOGIN") as caught:
        conn.list_containers()
    assert "PW-SECRET" not in str(caught.value)


def test_timeouts_and_dropped_connections_are_retried(http: responses.RequestsMock) -> None:
    http.get(QUERY, body=requests.exceptions.ReadTimeout("read timed out"))
    http.get(QUERY, body=requests.exceptions.ConnectionError("connection reset by peer"))
    http.get(QUERY, json=EMPTY)
    conn = _connector()
    assert conn.lookup_people(["a@example.com"]) == {}
    assert conn.usage().calls == 4  # timeout, reset, then the Contact and Lead queries


def test_a_lead_insert_is_not_retried_blindly(http: responses.RequestsMock) -> None:
    http.post(
        re.compile(re.escape(INSTANCE) + r"/services/data/v59\.0/composite/sobjects"),
        body=requests.exceptions.ReadTimeout(),
    )
    conn = _connector()
    with pytest.raises(TransientError, match="timed out"):
        conn.create_people([PersonDraft("new@example.com", "Lead")])
    assert conn.usage().calls == 1  # the insert may have happened; the next run's lookup finds it


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], FatalError),
        (
            400,
            [{"message": "Required fields are missing: [LastName]", "errorCode": "REQUIRED_FIELD_MISSING"}],
            FatalError,
        ),
        (403, [{"message": "insufficient access rights", "errorCode": "INSUFFICIENT_ACCESS"}], FatalError),
        (500, [{"message": "An unexpected error occurred", "errorCode": "UNKNOWN_EXCEPTION"}], TransientError),
        (502, "<html>Bad Gateway</html>", TransientError),
        (429, "", RateLimitedError),
    ],
)
def test_error_table_orders_errors_by_what_to_do(status: int, body: object, expected: type[Exception]) -> None:
    error = translate_status(status, body, connection="sf", endpoint="query")
    assert type(error) is expected
    assert str(error).startswith(f"sf: Salesforce query answered {status}")
