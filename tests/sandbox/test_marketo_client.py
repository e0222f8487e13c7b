"""The Marketo emulator answering the unmodified marketorestpython (its host attribute pointed at the
sandbox), and plain requests where a wire detail must be seen as it is (HTTP 200 with ``success: false``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from marketorestpython.client import MarketoClient

from campaign_bridge.sandbox.hubspot.values import ManualClock
from campaign_bridge.sandbox.marketo import MarketoSandbox
from campaign_bridge.sandbox.marketo.saved import dump_marketo, load_marketo
from campaign_bridge.sandbox.marketo.state import CLICK_EMAIL, OPEN_EMAIL


@pytest.fixture
def sandbox() -> Iterator[MarketoSandbox]:
    with MarketoSandbox() as running:
        yield running


def client(sb: MarketoSandbox, secret: str | None = None) -> MarketoClient:
    mc = MarketoClient("000-AAA-000", sb.client_id, secret or sb.client_secret, max_retry_time=1)
    mc.host = sb.url  # the client builds https://<munchkin>.mktorest.com and keeps it here
    return mc


def raw(sb: MarketoSandbox, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    token = sb.state.issue_token().value
    response = requests.request(method, f"{sb.url}{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_bad_credentials_are_refused_by_the_identity_endpoint(sandbox: MarketoSandbox) -> None:
    with pytest.raises(Exception, match="Bad client credentials"):
        client(sandbox, "wrong").authenticate()
    response = requests.get(f"{sandbox.url}/identity/oauth/token", params={"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_token_is_handed_out_again_while_it_lives_and_an_expired_one_is_renewed(sandbox: MarketoSandbox) -> None:
    first, second = client(sandbox), client(sandbox)
    first.authenticate()
    second.authenticate()
    assert first.token == second.token
    lead = sandbox.state.add_lead("a@x.example")
    sandbox.state.expire_token()
    assert raw_status(sandbox, first.token) == ("602", "Access token expired")
    first.valid_until = time.time()  # the hour has passed on the client's side too
    rows = first.execute("get_multiple_leads_by_filter_type", filterType="id", filterValues=[str(lead)])
    assert [r["id"] for r in rows] == [lead]
    assert first.token != second.token


def raw_status(sb: MarketoSandbox, token: str | None) -> tuple[str, str]:
    response = requests.get(f"{sb.url}/rest/v1/lists.json", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200  # Marketo's failures are HTTP 200
    error = response.json()["errors"][0]
    return error["code"], error["message"]


def test_a_token_in_the_query_string_is_no_longer_accepted(sandbox: MarketoSandbox) -> None:
    token = sandbox.state.issue_token().value
    body = requests.get(f"{sandbox.url}/rest/v1/lists.json", params={"access_token": token}).json()
    assert body["success"] is False
    assert body["errors"][0]["code"] == "600"


def test_leads_by_email_return_every_duplicate_and_upserts_answer_per_record(sandbox: MarketoSandbox) -> None:
    a, b = sandbox.state.add_lead("dup@x.example"), sandbox.state.add_lead("DUP@x.example")
    mc = client(sandbox)
    rows = mc.execute("get_multiple_leads_by_filter_type", filterType="email", filterValues=["dup@x.example"])
    assert sorted(r["id"] for r in rows) == [a, b]
    result = mc.execute(
        "create_update_leads", leads=[{"email": "dup@x.example", "firstName": "D"}, {"email": "new@x.example"}]
    )
    assert result[0]["status"] == "skipped"
    assert result[0]["reasons"][0]["code"] == "1007"
    assert result[1]["status"] == "created"
    only = mc.execute("create_update_leads", leads=[{"email": "new@x.example"}], action="createOnly")
    assert only[0]["reasons"][0]["code"] == "1005"


def test_static_list_membership_answers_per_lead_and_pages_by_token(sandbox: MarketoSandbox) -> None:
    state = sandbox.state
    leads = [state.add_lead(f"m{i}@x.example") for i in range(450)]
    static = state.add_list("Nurture")
    mc = client(sandbox)
    added = mc.execute("add_leads_to_list", listId=static, id=[*leads[:300]])
    assert {r["status"] for r in added} == {"added"}
    gone = mc.execute("add_leads_to_list", listId=static, id=[999_999])
    assert gone[0]["reasons"][0]["code"] == "1004"
    state.add_list_members(static, leads[300:])
    rows = mc.execute("get_multiple_leads_by_list_id", listId=static, batchSize=300)
    assert len(rows) == 450
    removed = mc.execute("remove_leads_from_list", listId=static, id=[leads[0], leads[0]])
    assert [r["status"] for r in removed] == ["removed", "skipped"]
    assert removed[1]["reasons"][0]["code"] == "1015"
    member = mc.execute("member_of_list", listId=static, id=[leads[0], leads[1]])
    assert [r["status"] for r in member] == ["notmemberof", "memberof"]


def test_batch_caps_are_enforced(sandbox: MarketoSandbox) -> None:
    static = sandbox.state.add_list("Caps")
    body = raw(sandbox, "POST", f"/rest/v1/lists/{static}/leads.json", json={"input": [{"id": i} for i in range(301)]})
    assert body["success"] is False
    assert body["errors"][0]["code"] == "1003"
    page = raw(sandbox, "GET", f"/rest/v1/lists/{static}/leads.json", params={"batchSize": 301})
    assert page["errors"][0]["code"] == "1003"
    values = ",".join(f"x{i}@x.example" for i in range(301))
    many = raw(sandbox, "POST", "/rest/v1/leads.json", params={"_method": "GET"},
               data={"filterType": "email", "filterValues": values})  # fmt: skip
    assert many["errors"][0]["code"] == "1003"


def test_program_statuses_come_from_the_channel_and_never_move_down(sandbox: MarketoSandbox) -> None:
    state = sandbox.state
    program = state.add_program("Webinar 2026", channel="Webinar")
    lead = state.add_lead("w@x.example")
    mc = client(sandbox)
    channels = {c["name"]: c for c in mc.execute("get_channels")}
    assert [s["name"] for s in channels["Webinar"]["progressionStatuses"]] == [
        "Not in Program", "Invited", "Registered", "Attended",
    ]  # fmt: skip
    assert [p["name"] for p in mc.execute("browse_programs")] == ["Webinar 2026"]
    path = f"/rest/v1/programs/{program}/members/status.json"
    up = raw(sandbox, "POST", path, json={"statusName": "Attended", "input": [{"leadId": lead}]})
    assert up["result"][0]["status"] == "created"
    down = raw(sandbox, "POST", path, json={"statusName": "Registered", "input": [{"leadId": lead}]})
    assert down["result"][0]["reasons"][0]["code"] == "1037"
    unknown = raw(sandbox, "POST", path, json={"statusName": "Came", "input": [{"leadId": lead}]})
    assert unknown["errors"][0]["code"] == "1025"
    rows = mc.execute("get_multiple_leads_by_program_id", programId=program, fields=["email"])
    assert rows[0]["membership"]["progressionStatus"] == "Attended"


def test_activities_page_from_a_since_date_by_type(sandbox: MarketoSandbox) -> None:
    state = sandbox.state
    lead = state.add_lead("act@x.example")
    now = time.time()
    state.log_activity(lead, CLICK_EMAIL, "Newsletter", at=now - 10 * 86_400)
    state.log_activity(lead, CLICK_EMAIL, "Newsletter", at=now - 40 * 86_400)
    state.log_activity(lead, OPEN_EMAIL, "Newsletter", at=now - 5 * 86_400)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 30 * 86_400))
    rows = client(sandbox).execute("get_lead_activities", activityTypeIds=[str(CLICK_EMAIL)], sinceDatetime=since)
    assert [(r["leadId"], r["activityTypeId"]) for r in rows] == [(lead, CLICK_EMAIL)]


def test_bulk_extract_of_a_smart_list_is_a_csv(sandbox: MarketoSandbox) -> None:
    state = sandbox.state
    clicked = state.add_lead("clicked@x.example")
    state.add_lead("quiet@x.example")
    state.log_activity(clicked, CLICK_EMAIL, "Newsletter")
    smart = state.add_smart_list("Clicked", {"activityTypeId": CLICK_EMAIL, "days": 30})
    mc = client(sandbox)
    job = mc.execute("create_leads_export_job", fields=["id", "email"], filters={"smartListId": smart})[0]
    assert job["status"] == "Created"
    mc.execute("enqueue_leads_export_job", job_id=job["exportId"])
    assert mc.execute("get_leads_export_job_status", job_id=job["exportId"])[0]["status"] == "Completed"
    text = mc.execute("get_leads_export_job_file", job_id=job["exportId"]).decode()
    assert text.splitlines() == ["id,email", f"{clicked},clicked@x.example"]


def test_export_allowance_is_spent_by_files() -> None:
    with MarketoSandbox(export_allowance=10) as sb:
        static = sb.state.add_list("L")
        sb.state.add_list_members(static, [sb.state.add_lead("a@x.example")])
        job = raw(sb, "POST", "/bulk/v1/leads/export/create.json",
                  json={"fields": ["id", "email"], "filter": {"staticListId": static}})["result"][0]  # fmt: skip
        body = raw(sb, "POST", f"/bulk/v1/leads/export/{job['exportId']}/enqueue.json")
        assert body["errors"][0]["code"] == "1029"
        assert "Export daily quota" in body["errors"][0]["message"]


def test_rate_window_and_daily_quota_answer_606_and_607() -> None:
    pace = ManualClock(start=100.0)
    with MarketoSandbox(per_window=3, daily=5, monotonic=pace) as sb:
        token = sb.state.issue_token().value
        codes = [_code(sb, token) for _ in range(4)]
        assert codes == [None, None, None, "606"]
        pace.advance(20)
        assert [_code(sb, token) for _ in range(3)] == [None, None, "607"]
        assert sb.state.limits.refused == {"606": 1, "607": 1}


def _code(sb: MarketoSandbox, token: str) -> str | None:
    body = requests.get(f"{sb.url}/rest/v1/lists.json", headers={"Authorization": f"Bearer {token}"}).json()
    return None if body["success"] else str(body["errors"][0]["code"])


def test_saved_state_loads_back_into_an_empty_instance(sandbox: MarketoSandbox) -> None:
    state = sandbox.state
    lead = state.add_lead("s@x.example", firstName="S")
    static = state.add_list("Saved")
    state.add_list_members(static, [lead])
    program = state.add_program("P", channel="Webinar")
    state.set_member_status(program, lead, "Registered")
    data = dump_marketo(sandbox)
    with MarketoSandbox() as other:
        load_marketo(other, data)
        assert other.client_secret == sandbox.client_secret
        assert list(other.state.lists[static].members) == [lead]
        assert other.state.programs[program].members[lead].status == "Registered"
        assert other.state.by_email["s@x.example"] == [lead]
        with pytest.raises(ValueError, match="empty sandbox"):
            load_marketo(other, data)


def test_bulk_import_adds_to_a_list_and_reports_failed_rows(sandbox: MarketoSandbox, tmp_path: Any) -> None:
    state = sandbox.state
    known = state.add_lead("known@x.example")
    static = state.add_list("Imported")
    path = tmp_path / "leads.csv"
    path.write_text(f"id\n{known}\n999999\n")
    mc = client(sandbox)
    batch = mc.execute("import_lead", format="csv", file=str(path), lookupField="id", listId=static)[0]
    status = mc.execute("get_import_lead_status", id=batch["batchId"])[0]
    assert (status["status"], status["numOfLeadsProcessed"], status["numOfRowsFailed"]) == ("Complete", 1, 1)
    failures = mc.execute("get_import_failure_file", id=batch["batchId"])
    assert "999999,Lead not found" in failures
    assert list(state.lists[static].members) == [known]


def test_more_than_ten_calls_in_flight_are_refused_with_615() -> None:
    from campaign_bridge.sandbox.marketo.limits import Limits

    limits = Limits(concurrent=10)
    assert all(limits.enter(0.0) is None for _ in range(10))
    refusal = limits.enter(0.0)
    assert refusal is not None
    assert (refusal.code, refusal.message) == ("615", "Concurrent access limit reached")
    limits.leave()
    assert limits.enter(0.0) is None
