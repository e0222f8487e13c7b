"""The Account Engagement connector against its sandbox over HTTP: bad credentials and business units
name themselves, the daily allotment stops a run cleanly and the next day resumes, the 5-request cap is
never exceeded, AMPSEA duplicates keep their Salesforce tie, and the v5 codes the sandbox answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from campaign_bridge.connectors.pardot import PardotSettings
from campaign_bridge.errors import AuthError, FatalError, QuotaExhaustedError
from campaign_bridge.mapping.model import Change, ChangeAction, OutcomeState, RecordRef
from tests.contract.harness_pardot import PardotHarness


@pytest.fixture
def harness() -> Iterator[PardotHarness]:
    h = PardotHarness()
    yield h
    h.close()


def test_a_wrong_client_secret_is_refused_at_login_without_echoing_it(harness: PardotHarness) -> None:
    creds = harness.sb.org.credentials
    auth = {"method": "client_credentials", "client_id": creds.client_id, "client_secret": "not-the-secret"}
    conn = harness.connector(harness.settings(auth=auth))
    with pytest.raises(AuthError, match="invalid_client") as caught:
        conn.list_containers()
    assert "not-the-secret" not in str(caught.value)


def test_an_unknown_business_unit_is_code_201_with_what_to_check(harness: PardotHarness) -> None:
    conn = harness.connector(harness.settings(business_unit_id="0Uv000000000000AAA"))
    with pytest.raises(FatalError, match="code 201.*business_unit_id"):
        conn.list_containers()


def test_a_session_token_the_org_never_issued_is_code_184(harness: PardotHarness) -> None:
    conn = harness.connector(harness.settings(auth={"method": "session", "session_id": "00Dbogus!token"}))
    with pytest.raises(AuthError, match="code 184"):
        conn.list_containers()


def test_an_expired_token_is_renewed_once_and_the_call_goes_through(harness: PardotHarness) -> None:
    harness.sb.state.add_list("Nurture")
    conn = harness.connector()
    assert [c.name for c in conn.list_containers() if c.kind.value == "static_list"] == ["Nurture"]
    harness.sb.org.expire_sessions()
    conn._campaigns = None
    assert any(c.name == "Nurture" for c in conn.list_containers())


def test_an_unknown_list_names_the_close_matches(harness: PardotHarness) -> None:
    harness.sb.state.add_list("Webinar nurture")
    with pytest.raises(FatalError, match="did you mean 'Webinar nurture'"):
        harness.connector().find_container("list", "Webinar nurtur")


def test_a_dynamic_list_is_never_written(harness: PardotHarness) -> None:
    dynamic = harness.sb.state.add_list("Hot", rule=lambda p: True)
    pid = harness.sb.state.add_prospect("a@x.example")
    conn = harness.connector()
    hot = conn.find_container("list", "Hot")
    before = len(harness.sb.server.log)
    with pytest.raises(FatalError, match="dynamic list"):
        conn.apply_changes(hot, [Change(ChangeAction.ADD, RecordRef("sys", "prospect", str(pid)))])
    assert len(harness.sb.server.log) == before
    assert {m.prospect_id for m in harness.sb.state.members(dynamic)} == {pid}


def test_an_invalid_email_is_a_rejected_record_and_nothing_is_created(harness: PardotHarness) -> None:
    from campaign_bridge.mapping.model import PersonDraft

    outcomes = harness.connector().create_people([PersonDraft("bad address@x.example", "contact")])
    assert outcomes[0].record is None
    assert outcomes[0].code == "65"
    assert harness.sb.state.prospects == {}


def test_the_daily_allotment_stops_the_writes_cleanly_and_the_next_day_resumes(harness: PardotHarness) -> None:
    state = harness.sb.state
    list_id = state.add_list("Nurture")
    ids = state.bulk_add_prospects([f"p{i}@x.example" for i in range(30)])
    with state.lock:
        state.limits, state.daily_limit = True, 20
    conn = harness.connector()
    nurture = conn.find_container("list", "Nurture")
    changes = [Change(ChangeAction.ADD, RecordRef("sys", "prospect", str(i))) for i in ids]
    with pytest.raises(QuotaExhaustedError, match="daily API allotment is spent"):
        conn.apply_changes(nurture, changes)
    written = {m.prospect_id for m in state.members(list_id)}
    assert 0 < len(written) < 30
    state.new_day()
    # The next run sends what is missing (and, say, three it is unsure of: the add is idempotent).
    again = [c for c in changes if int(c.target.id) not in written] + [
        c for c in changes if int(c.target.id) in written
    ][:3]
    outcomes = harness.connector().apply_changes(nurture, again)
    assert [o.state for o in outcomes].count(OutcomeState.ALREADY_PRESENT) == 3
    assert len(state.members(list_id)) == 30


def test_writes_keep_within_the_five_request_cap(harness: PardotHarness) -> None:
    state = harness.sb.state
    harness.sb.app.latency = 0.01
    state.add_list("Nurture")
    ids = state.bulk_add_prospects([f"p{i}@x.example" for i in range(40)])
    with state.lock:
        state.limits = True
    conn = harness.connector()
    nurture = conn.find_container("list", "Nurture")
    outcomes = conn.apply_changes(
        nurture, [Change(ChangeAction.ADD, RecordRef("sys", "prospect", str(i))) for i in ids]
    )
    assert {o.state for o in outcomes} == {OutcomeState.APPLIED}
    assert all(r.status != 429 for r in harness.sb.server.log)  # never refused for concurrency


def test_ampsea_duplicates_are_told_apart_by_their_salesforce_tie(harness: PardotHarness) -> None:
    state = harness.sb.state
    lead = state.add_prospect("linus@x.example", salesforce_id="00Q5g000001LINUSAA")
    contact = state.add_prospect("linus@x.example", salesforce_id="0035g000001LINUSAA")
    found = harness.connector().lookup_people(["LINUS@x.example"])["linus@x.example"]
    assert {(r.ref.kind, r.ref.id) for r in found} == {("lead", str(lead)), ("contact", str(contact))}


def _raw(harness: PardotHarness, method: str, path: str, **kwargs: Any) -> requests.Response:
    token = harness.sb.token()
    headers = {"Authorization": f"Bearer {token}", "Pardot-Business-Unit-Id": harness.sb.business_unit_id}
    return requests.request(method, harness.sb.url + path, headers=headers, timeout=10, **kwargs)


def test_the_sandbox_answers_v5s_documented_codes(harness: PardotHarness) -> None:
    state = harness.sb.state
    list_id, pid = state.add_list("L"), state.add_prospect("a@x.example")
    body = {"listId": list_id, "prospectId": pid}
    assert _raw(harness, "POST", "/api/v5/objects/list-memberships?fields=id", json=body).status_code == 201
    again = _raw(harness, "POST", "/api/v5/objects/list-memberships?fields=id", json=body)
    assert again.json()["code"] == 58
    assert _raw(harness, "GET", "/api/v5/objects/prospects").json()["code"] == 224  # fields is required
    many = (
        "&".join(f"{k}=1" for k in ("idGreaterThan", "listId", "prospectId"))
        + "&createdAtAfter=2026-01-01T00:00:00%2B00:00"
    )
    assert _raw(harness, "GET", f"/api/v5/objects/list-memberships?fields=id&{many}").json()["code"] == 209
    page = _raw(harness, "GET", "/api/v5/objects/prospects?fields=id&limit=1").json()
    assert page["nextPageToken"] is None
    state.add_prospect("b@x.example")
    token = _raw(harness, "GET", "/api/v5/objects/prospects?fields=id&limit=1").json()["nextPageToken"]
    mixed = _raw(harness, "GET", f"/api/v5/objects/prospects?fields=id&limit=1&nextPageToken={token}")
    assert mixed.status_code == 400  # only fields may go with a page token
    assert _raw(harness, "GET", "/api/v5/objects/prospects?fields=id&nextPageToken=nope").json()["code"] == 211
    harness.tick(4 * 3600 + 1)
    assert _raw(harness, "GET", f"/api/v5/objects/prospects?fields=id&nextPageToken={token}").json()["code"] == 210
    assert _raw(harness, "GET", "/api/v5/objects/prospects?fields=id&limit=1001").status_code == 400


def test_settings_refuse_a_malformed_business_unit_id() -> None:
    with pytest.raises(ValueError, match="business_unit_id"):
        PardotSettings(business_unit_id="12345", auth={"method": "session", "session_id": "x"})


def big_list(harness: PardotHarness, members: int) -> None:
    """A static list "Big" of ``members`` prospects, p0@x.example on."""
    state = harness.sb.state
    list_id = state.add_list("Big")
    for pid in state.bulk_add_prospects([f"p{i}@x.example" for i in range(members)]):
        state.add_member(list_id, pid)


def test_a_read_of_more_than_one_page_goes_through_the_export_api(harness: PardotHarness) -> None:
    big_list(harness, 2500)
    conn = harness.connector()
    big = conn.find_container("list", "Big")
    harness.sb.server.reset_log()
    members = list(conn.read_members(big))
    assert len({m.person.ref.id for m in members}) == 2500
    assert {m.person.email for m in members} == {f"p{i}@x.example" for i in range(2500)}
    paths = [r.path for r in harness.sb.server.log]
    assert paths.count("/api/v5/objects/list-memberships") == 1  # the probe page, then the export
    assert any(p.startswith("/api/v5/exports") for p in paths)
    never = harness.connector(harness.settings(read_export="never"))
    assert len(list(never.read_members(big))) == 2500


def test_bad_settings_in_a_client_file_name_their_line_and_never_echo_a_secret() -> None:
    from campaign_bridge.config.loader import load_config_text
    from campaign_bridge.errors import ConfigError

    text = """client: acme
state: "sqlite:///:memory:"
connections:
  pd:
    type: pardot
    business_unit_id: "12345"
    auth: {method: client_credentials, client_id: abc, client_secret: "${PD_SECRET}"}
  crm: {type: memory-crm}
rules:
  - name: r
    from: {connection: crm, campaign: Webinar}
    to: {connection: pd, list: Nurture}
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "acme.yaml", {"PD_SECRET": "s3cret-value"})
    message = str(caught.value)
    assert "acme.yaml:" in message
    assert "business_unit_id" in message
    assert "s3cret-value" not in message


@pytest.mark.parametrize("many", [False, True])
def test_member_origin_tells_our_adds_from_a_persons(harness: PardotHarness, many: bool) -> None:
    state = harness.sb.state
    list_id = state.add_list("Nurture")
    ours, theirs, absent, *more = state.bulk_add_prospects([f"p{i}@x.example" for i in range(8)])
    state.add_member(list_id, theirs)  # a marketer, in the UI
    conn = harness.connector()
    nurture = conn.find_container("list", "Nurture")
    conn.apply_changes(nurture, [Change(ChangeAction.ADD, RecordRef("sys", "prospect", str(ours)))])
    asked = [ours, theirs, absent, *(more if many else [])]
    origin = conn.member_origin(nurture, [RecordRef("sys", "prospect", str(p)) for p in asked])
    assert {k: v.added_by_us for k, v in origin.items()} == {str(ours): True, str(theirs): False}

    session = harness.connector(harness.settings(auth={"method": "session", "session_id": harness.sb.token()}))
    unknown = session.member_origin(nurture, [RecordRef("sys", "prospect", str(ours))])
    assert unknown[str(ours)].added_by_us is None  # a bare session id names no user: nothing is claimed


def test_a_campaign_read_as_a_source_gives_its_prospects_and_incrementally_only_the_moved(
    harness: PardotHarness,
) -> None:
    from campaign_bridge.connectors.base import Watermark

    state = harness.sb.state
    webinar = state.add_campaign("Webinar 2026")
    early = state.add_prospect("early@x.example", campaign_id=webinar)
    state.add_prospect("elsewhere@x.example")
    conn = harness.connector()
    campaign = conn.find_container("campaign", "Webinar 2026")
    assert campaign.exclusive
    assert [m.person.ref.id for m in conn.read_members(campaign)] == [str(early)]
    mark = harness.wall()
    harness.tick(60)
    late = state.add_prospect("late@x.example", campaign_id=webinar)
    since = [m.person.ref.id for m in conn.read_members(campaign, since=Watermark(mark + timedelta(seconds=30)))]
    assert since == [str(late)]


def test_without_ampsea_a_second_prospect_with_an_email_is_refused_as_a_record() -> None:
    from campaign_bridge.mapping.model import PersonDraft

    h = PardotHarness(ampsea=False)
    try:
        h.sb.state.add_prospect("taken@x.example")
        outcomes = h.connector().create_people(
            [PersonDraft("taken@x.example", "contact"), PersonDraft("fresh@x.example", "contact")]
        )
        assert outcomes[0].record is None
        assert outcomes[0].code == "54"
        assert outcomes[1].record is not None
        assert len(h.sb.state.by_email("taken@x.example")) == 1
    finally:
        h.close()


def test_past_the_query_cap_a_query_read_stops_by_name_and_the_export_reads_it(
    harness: PardotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_bridge.sandbox.pardot import objects

    monkeypatch.setattr(objects, "MAX_RECORDS", 2000)  # v5's 100,000, scaled down
    state = harness.sb.state
    list_id = state.add_list("Big")
    for pid in state.bulk_add_prospects([f"p{i}@x.example" for i in range(2500)]):
        state.add_member(list_id, pid)
    never = harness.connector(harness.settings(read_export="never"))
    with pytest.raises(FatalError, match="Pardot-Warning 203.*read_export: always"):
        list(never.read_members(never.find_container("list", "Big")))
    auto = harness.connector()
    assert len(list(auto.read_members(auto.find_container("list", "Big")))) == 2500


def test_created_prospects_go_to_the_new_prospect_campaign(harness: PardotHarness) -> None:
    from campaign_bridge.mapping.model import PersonDraft

    state = harness.sb.state
    inbound = state.add_campaign("Inbound 2026")
    conn = harness.connector(harness.settings(new_prospect_campaign="Inbound 2026"))
    drafts = [
        PersonDraft("new@x.example", "contact", first_name="Nina"),
        PersonDraft(f"{'x' * 250}@x.example", "contact"),
    ]
    made, too_long = conn.create_people(drafts)
    assert made.record is not None
    prospect = state.prospects[int(made.record.ref.id)]
    assert (prospect.campaign_id, prospect.first_name) == (inbound, "Nina")
    assert too_long.record is None
    assert too_long.code == "65"


def test_a_grade_segment_selects_the_prospects_graded_with_its_letters(harness: PardotHarness) -> None:
    from campaign_bridge.mapping.segment import parse_segment

    state = harness.sb.state
    state.add_prospect("top@x.example", grade="A+", score=20)
    state.add_prospect("mid@x.example", grade="B", score=200)
    state.add_prospect("ungraded@x.example", score=200)
    good = state.add_prospect("good@x.example", grade="A-", score=150)
    conn = harness.connector()
    graded = parse_segment({"field": "grade", "in": ["A+", "A", "A-"]})
    assert sorted(m.person.email or "" for m in conn.read_segment(graded)) == ["good@x.example", "top@x.example"]
    both = parse_segment({"all": [{"field": "grade", "in": ["A+", "A", "A-"]}, {"field": "score", "gte": 100}]})
    assert [m.person.ref.id for m in conn.read_segment(both)] == [str(good)]


def test_a_list_whose_size_is_known_is_read_the_cheaper_way_without_a_probe(harness: PardotHarness) -> None:
    import dataclasses

    big_list(harness, 2500)
    conn = harness.connector()
    big = conn.find_container("list", "Big")
    assert big.size is None  # v5 does not say
    log = harness.sb.server
    # 2,500 as the last full read found: three pages cost no more than an export, so pages, no probe.
    log.reset_log()
    assert len(list(conn.read_members(dataclasses.replace(big, size=2500)))) == 2500
    paths = [r.path for r in log.log]
    assert (paths.count("/api/v5/objects/list-memberships"), any("/exports" in p for p in paths)) == (3, False)
    # 10,000 expected: straight to the export, without the first page.
    log.reset_log()
    assert len(list(conn.read_members(dataclasses.replace(big, size=10_000)))) == 2500
    paths = [r.path for r in log.log]
    assert paths.count("/api/v5/objects/list-memberships") == 0
    assert any(p.startswith("/api/v5/exports") for p in paths)
