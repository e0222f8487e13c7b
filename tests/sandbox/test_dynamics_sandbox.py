"""The Dataverse sandbox as Microsoft's own client and the wire see it: PowerPlatform-Dataverse-Client and msal
unmodified, the Web API's refusals, ``$batch`` rules, service protection answers, the demo and saved state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msal
import pytest
import requests

from campaign_bridge.sandbox.demo_company import COMPANY, WEBINAR
from campaign_bridge.sandbox.dynamics import DynamicsSandbox
from campaign_bridge.sandbox.dynamics.saved import dump_dynamics, load_dynamics
from campaign_bridge.sandbox.dynamics.spec import SANDBOX, seed_demo
from campaign_bridge.sandbox.spec import SandboxFiles


@pytest.fixture
def sandbox() -> Iterator[DynamicsSandbox]:
    with DynamicsSandbox() as sb:
        yield sb


class Trusting:
    """msal's ``http_client``: the sandbox's CA on every request (the environment's CA bundle would win over
    ``Session.verify``)."""

    def __init__(self, ca: str) -> None:
        self.session, self.ca = requests.Session(), ca

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.get(url, verify=self.ca, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.post(url, verify=self.ca, **kwargs)

    def close(self) -> None:
        self.session.close()


def _token(sb: DynamicsSandbox) -> str:
    creds = sb.credentials()
    app = msal.ConfidentialClientApplication(
        creds["client_id"],
        client_credential=creds["client_secret"],
        authority=sb.authority,
        http_client=Trusting(str(sb.ca_bundle)),
        instance_discovery=False,
    )
    return str(app.acquire_token_for_client([f"{sb.url}/.default"])["access_token"])


class MsalCredential:
    """An azure-core ``TokenCredential`` backed by msal: what the SDK asks for a token."""

    def __init__(self, sb: DynamicsSandbox) -> None:
        self.sb = sb

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        assert scopes == (f"{self.sb.url}/.default",)
        return AccessToken(_token(self.sb), int(datetime.now(UTC).timestamp()) + 3000)


def test_the_official_sdk_creates_pages_and_reads_unmodified(
    sandbox: DynamicsSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PowerPlatform.Dataverse.client import DataverseClient

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sandbox.ca_bundle))  # the SDK's own session trusts the env
    monkeypatch.setenv("CURL_CA_BUNDLE", str(sandbox.ca_bundle))
    with DataverseClient(sandbox.url, MsalCredential(sandbox)) as client:
        one = client.records.create(
            "contact", {"firstname": "Ada", "lastname": "Lovelace", "emailaddress1": "ada@x.example"}
        )
        many = client.records.create(
            "contact", [{"lastname": f"P{i}", "emailaddress1": f"p{i}@x.example"} for i in range(7)]
        )
        assert len(many) == 7
        got = client.records.retrieve("contact", one, select=["emailaddress1"])
        assert got["emailaddress1"] == "ada@x.example"
        found = client.records.list(
            "contact", filter="endswith(emailaddress1,'@x.example')", select=["lastname"], page_size=3
        )
        assert len(list(found)) == 8
        batch = client.batch.new()
        batch.records.create("lead", {"lastname": "Batched", "emailaddress1": "b@x.example"})
        with batch.changeset() as cs:
            cs.records.create("contact", {"lastname": "InChangeset", "emailaddress1": "c@x.example"})
        result = batch.execute()
        assert [r.status_code for r in result.responses] == [204, 204]
    assert {r["lastname"] for r in sandbox.state.table("lead").values()} == {"Batched"}
    assert "InChangeset" in {r["lastname"] for r in sandbox.state.table("contact").values()}
    assert sandbox.server.calls(r"/EntityDefinitions$") >= 1  # the SDK resolves the entity set first
    assert sandbox.server.calls(r"CreateMultiple") == 1


def test_requests_without_a_live_token_get_401_and_a_challenge(sandbox: DynamicsSandbox) -> None:
    r = requests.get(f"{sandbox.url}/api/data/v9.2/contacts", verify=str(sandbox.ca_bundle), timeout=10)
    assert r.status_code == 401
    assert r.content == b""
    assert r.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


def _api(sb: DynamicsSandbox, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {_token(sb)}", **kwargs.pop("headers", {})}
    return requests.request(
        method, f"{sb.url}/api/data/v9.2/{path}", headers=headers, verify=str(sb.ca_bundle), timeout=10, **kwargs
    )


def test_odata_refusals_are_dataverse_error_bodies(sandbox: DynamicsSandbox) -> None:
    skip = _api(sandbox, "GET", "contacts?$skip=5")
    assert skip.status_code == 400
    assert skip.json()["error"]["code"] == "0x80060888"
    unknown = _api(sandbox, "GET", "contacts?$select=nosuchcolumn")
    assert "Could not find a property named 'nosuchcolumn'" in unknown.json()["error"]["message"]
    missing = _api(sandbox, "GET", "contacts(00000000-0000-0000-0000-000000000009)")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "0x80040217"
    # A quote in a value is data, not syntax.
    sandbox.state.add_contact("o'brien@x.example")
    sandbox.state.add_contact("obrien@x.example")
    quoted = _api(sandbox, "GET", "contacts?$select=emailaddress1&$filter=emailaddress1 eq 'O''Brien@x.example'")
    assert [r["emailaddress1"] for r in quoted.json()["value"]] == ["o'brien@x.example"]


def test_pages_are_5000_at_most_with_a_skiptoken_link(sandbox: DynamicsSandbox) -> None:
    for i in range(7):
        sandbox.state.add_contact(f"p{i}@x.example")
    first = _api(sandbox, "GET", "contacts?$select=emailaddress1", headers={"Prefer": "odata.maxpagesize=5"})
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=5"
    link = first.json()["@odata.nextLink"]
    assert "$skiptoken=%3Ccookie%20pagenumber%3D%222%22" in link
    second = requests.get(
        link, headers={"Authorization": f"Bearer {_token(sandbox)}"}, verify=str(sandbox.ca_bundle), timeout=10
    )
    assert len(first.json()["value"]) + len(second.json()["value"]) == 7
    big = _api(sandbox, "GET", "contacts?$select=emailaddress1", headers={"Prefer": "odata.maxpagesize=9000"})
    assert big.headers["Preference-Applied"] == "odata.maxpagesize=5000"


def _batch(parts: list[str], boundary: str = "batch_x") -> bytes:
    return ("".join(f"--{boundary}\r\n{p}" for p in parts) + f"--{boundary}--\r\n").encode()


def _get(path: str) -> str:
    return f"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /api/data/v9.2/{path} HTTP/1.1\r\n\r\n"


def test_a_batch_holds_at_most_1000_requests_and_a_change_set_is_all_or_nothing(sandbox: DynamicsSandbox) -> None:
    headers = {"Content-Type": "multipart/mixed; boundary=batch_x"}
    too_many = _api(sandbox, "POST", "$batch", data=_batch([_get("WhoAmI")] * 1001), headers=headers)
    assert too_many.status_code == 400
    assert "1000" in too_many.json()["error"]["message"]
    ok = _api(sandbox, "POST", "$batch", data=_batch([_get("WhoAmI")] * 3), headers=headers)
    assert ok.status_code == 200
    assert ok.text.count("HTTP/1.1 200 OK") == 3
    post = (
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {n}\r\n\r\n"
        "POST /api/data/v9.2/contacts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{body}\r\n"
    )
    changeset = (
        "Content-Type: multipart/mixed; boundary=changeset_y\r\n\r\n"
        + "--changeset_y\r\n" + post.format(n=1, body='{"lastname": "Kept?"}')
        + "--changeset_y\r\n" + post.format(n=2, body='{"nosuchcolumn": 1}')
        + "--changeset_y--\r\n"
    )  # fmt: skip
    failed = _api(sandbox, "POST", "$batch", data=_batch([changeset]), headers=headers)
    assert "HTTP/1.1 400" in failed.text
    assert sandbox.state.table("contact") == {}  # the first create was rolled back


def test_list_actions_refuse_dynamic_and_locked_lists(sandbox: DynamicsSandbox) -> None:
    s = sandbox.state
    p = s.add_contact("p@x.example")
    dynamic = s.add_list("Computed", "contact", query='<fetch><entity name="contact"/></fetch>')
    locked = s.add_list("Locked", "contact", locked=True)
    static = s.add_list("Static", "contact")
    for lst in (dynamic, locked):
        r = _api(sandbox, "POST", f"lists({lst})/Microsoft.Dynamics.CRM.AddMemberList", json={"EntityId": p})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "0x80040203"
    body = {"List": {"@odata.type": "Microsoft.Dynamics.CRM.list", "listid": static},
            "Members": [{"@odata.type": "Microsoft.Dynamics.CRM.contact", "contactid": p}] * 2}  # fmt: skip
    assert _api(sandbox, "POST", "AddListMembersList", json=body).status_code == 204
    assert s.static_members(static) == [p]  # added once
    assert (
        _api(
            sandbox, "POST", f"lists({static})/Microsoft.Dynamics.CRM.RemoveMemberList", json={"EntityId": p}
        ).status_code
        == 204
    )
    assert s.static_members(static) == []


def test_service_protection_answers_429_with_retry_after_and_the_code() -> None:
    clock = [0.0]
    with DynamicsSandbox(limits=True, requests=2, window=30.0, monotonic=lambda: clock[0]) as sb:
        token = _token(sb)
        h = {"Authorization": f"Bearer {token}"}
        url = f"{sb.url}/api/data/v9.2/WhoAmI"
        answers = [requests.get(url, headers=h, verify=str(sb.ca_bundle), timeout=10) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[0].headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "1"
        assert answers[2].json()["error"]["code"] == "0x80072322"
        assert answers[2].headers["Retry-After"] == "30"
        clock[0] = 31.0
        assert requests.get(url, headers=h, verify=str(sb.ca_bundle), timeout=10).status_code == 200


def test_the_demo_company_and_a_saved_state_round_trip(tmp_path: Any) -> None:
    files = SandboxFiles(tmp_path)
    with SANDBOX.build(0, files).start() as sb:
        seed_demo(sb, COMPANY, datetime.now(UTC))
        lists = {r["listname"]: r for r in sb.state.table("list").values()}
        assert lists["Engaged Northwind contacts"]["type"] is True
        assert lists["Imported attendees (locked)"]["lockstatus"] is True
        webinar = next(c for c in sb.state.table("campaign").values() if c["name"] == WEBINAR)
        assert len(sb.state.lists_of(webinar["campaignid"])) == 4
        saved = dump_dynamics(sb)
        info = SANDBOX.connection_info(sb, files)
        assert info["auth"]["client_secret"]["client_secret"] == sb.state.app.client_secret
    with SANDBOX.build(0, files).start() as again:
        load_dynamics(again, saved)
        assert dump_dynamics(again) == saved
        with pytest.raises(ValueError, match="format"):
            load_dynamics(again, {"format": -1})


def test_upsert_multiple_updates_by_id_creates_the_rest_and_is_all_or_nothing(sandbox: DynamicsSandbox) -> None:
    known = sandbox.state.add_contact("old@x.example")
    new_id = "11111111-2222-4333-8444-555555555555"
    targets = [
        {"@odata.type": "Microsoft.Dynamics.CRM.contact", "contactid": known, "emailaddress1": "new@x.example"},
        {"@odata.type": "Microsoft.Dynamics.CRM.contact", "contactid": new_id, "lastname": "Created"},
    ]
    ok = _api(sandbox, "POST", "contacts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets})
    assert ok.status_code == 204
    assert sandbox.state.get("contact", known)["emailaddress1"] == "new@x.example"
    assert sandbox.state.get("contact", new_id)["lastname"] == "Created"
    bad = [{"contactid": "99999999-2222-4333-8444-555555555555", "lastname": "X"}, {"nosuchcolumn": 1}]
    refused = _api(sandbox, "POST", "contacts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": bad})
    assert refused.status_code == 400
    assert len(sandbox.state.table("contact")) == 2  # nothing of the refused call stayed
