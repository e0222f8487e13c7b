"""The Marketo connector against its sandbox: token renewal, pacing below Marketo's window, the quotas,
garbage answers, per-record answers (duplicates, statuses never lowered), segments it must refuse, and
settings a person gets wrong."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.marketo import MarketoConnector
from campaign_bridge.errors import ConfigError, FatalError, QuotaExhaustedError
from campaign_bridge.mapping.model import Change, ChangeAction, OutcomeState, PersonDraft, RecordRef
from campaign_bridge.mapping.segment import parse_segment
from tests.contract.harness_marketo import MarketoHarness


@pytest.fixture
def harness() -> Iterator[MarketoHarness]:
    h = MarketoHarness()
    yield h
    h.close()


def _program(h: MarketoHarness) -> tuple[MarketoConnector, str]:
    program = h.sb.state.add_program("Webinar", channel="Webinar")
    return h.connector(), str(program)


def test_an_expired_token_is_renewed_once_and_the_call_repeated(harness: MarketoHarness) -> None:
    conn = harness.connector()
    harness.add_person("a@x.example")
    assert conn.lookup_people(["a@x.example"])
    harness.sb.state.expire_token()
    assert conn.lookup_people(["a@x.example"])
    assert harness.sb.server.calls(r"^/identity/oauth/token$") == 2
    assert conn.client.refusals == {"602": 1}


def test_calls_are_paced_below_100_per_20_seconds_and_never_refused() -> None:
    h = MarketoHarness(per_window=100, concurrent=10)
    try:
        conn = h.connector()
        started = h.pace()
        for _ in range(250):
            conn.lookup_people(["nobody@x.example"])
        assert h.sb.state.limits.refused == {}
        assert h.pace() - started >= 40  # 250 calls need three windows
    finally:
        h.close()


def test_the_daily_quota_stops_the_run_with_a_resumable_error() -> None:
    h = MarketoHarness(daily=2)
    try:
        conn = h.connector()
        conn.lookup_people(["a@x.example"])
        conn.lookup_people(["a@x.example"])
        with pytest.raises(QuotaExhaustedError, match="daily API quota"):
            conn.lookup_people(["a@x.example"])
    finally:
        h.close()


def test_a_garbage_answer_is_retried(harness: MarketoHarness) -> None:
    ref = harness.add_person("g@x.example")
    conn = harness.connector()
    conn.lookup_people(["g@x.example"])  # logged in
    harness.sb.server.faults.queue("garbage")
    assert [r.ref.id for r in conn.lookup_people(["g@x.example"])["g@x.example"]] == [ref.id]


def test_lookup_returns_every_duplicate_and_create_refuses_an_existing_address(harness: MarketoHarness) -> None:
    a, b = harness.add_person("dup@x.example"), harness.add_person("Dup@x.example")
    conn = harness.connector()
    assert sorted(r.ref.id for r in conn.lookup_people(["dup@x.example"])["dup@x.example"]) == sorted([a.id, b.id])
    outcomes = conn.create_people([PersonDraft("dup@x.example", "lead"), PersonDraft("fresh@x.example", "lead")])
    assert outcomes[0].record is None
    assert outcomes[0].code == "1005"
    assert outcomes[1].record is not None


def test_program_adds_report_a_higher_status_marketo_holds(harness: MarketoHarness) -> None:
    conn, program_id = _program(harness)
    high, new = harness.add_person("high@x.example"), harness.add_person("new@x.example")
    harness.sb.state.set_member_status(int(program_id), int(high.id), "Attended")
    program = conn.find_container("program", "Webinar")
    assert [s.label for s in program.statuses] == ["Invited", "Registered", "Attended"]
    outcomes = conn.apply_changes(
        program, [Change(ChangeAction.ADD, high, "Registered"), Change(ChangeAction.ADD, new, "Registered")]
    )
    assert [(o.state, o.current_status) for o in outcomes] == [
        (OutcomeState.ALREADY_PRESENT, "Attended"),
        (OutcomeState.APPLIED, None),
    ]
    bad = conn.apply_changes(program, [Change(ChangeAction.ADD, new, "Came")])
    assert bad[0].state is OutcomeState.REJECTED
    assert "Came" in (bad[0].message or "")
    removed = conn.apply_changes(program, [Change(ChangeAction.REMOVE, new), Change(ChangeAction.REMOVE, new)])
    assert [o.state for o in removed] == [OutcomeState.APPLIED, OutcomeState.ALREADY_ABSENT]


def test_a_list_write_never_claims_a_member_someone_else_added(harness: MarketoHarness) -> None:
    cid = harness.add_container("Nurture")
    theirs, ours = harness.add_person("t@x.example"), harness.add_person("o@x.example")
    harness.add_member(cid, theirs)
    conn = harness.connector()
    container = conn.find_container("list", "Nurture")
    outcomes = conn.apply_changes(container, [Change(ChangeAction.ADD, theirs), Change(ChangeAction.ADD, ours)])
    assert [o.state for o in outcomes] == [OutcomeState.ALREADY_PRESENT, OutcomeState.APPLIED]
    gone = RecordRef("sys", "lead", "999999")
    assert conn.apply_changes(container, [Change(ChangeAction.ADD, gone)])[0].code == "1004"


def test_a_spent_export_allowance_falls_back_to_pages(harness: MarketoHarness) -> None:
    harness.sb.app.export_allowance[0] = 0
    cid = harness.add_container("Big")
    refs = [harness.add_person(f"b{i}@x.example") for i in range(400)]
    for ref in refs:
        harness.add_member(cid, ref)
    conn = harness.connector()
    rows = list(conn.read_members(conn.find_container("list", cid)))
    assert sorted(r.person.ref.id for r in rows) == sorted(r.id for r in refs)
    assert harness.sb.server.calls(r"/rest/v1/lists/\d+/leads\.json") == 2


def test_a_segment_marketo_cannot_select_is_refused_before_any_call(harness: MarketoHarness) -> None:
    conn = harness.connector()
    with pytest.raises(FatalError, match="smart list"):
        conn.read_segment(parse_segment({"field": "score", "gte": 50}))
    assert harness.sb.server.log == []


def test_the_smart_campaign_and_smart_list_are_never_written(harness: MarketoHarness) -> None:
    harness.sb.state.add_smart_campaign("Welcome flow")
    conn = harness.connector()
    flows = [c for c in conn.list_containers() if c.name == "Welcome flow"]
    with pytest.raises(FatalError, match="flow"):
        conn.apply_changes(flows[0], [Change(ChangeAction.ADD, harness.add_person("f@x.example"))])


def test_bad_settings_name_the_file_and_line_and_literal_secrets_are_refused() -> None:
    text = """client: t
connections:
  mk:
    type: marketo
    base_url: 123-ABC-456.mktorest.com
    auth: {method: client_credentials, client_id: abc, client_secret: "${MK_SECRET}"}
"""
    with pytest.raises(ConfigError, match=r"t\.yaml:5.*https://"):
        load_config_text(text, "t.yaml", {"MK_SECRET": "s"})
    literal = text.replace("123-ABC-456.mktorest.com", "https://x.mktorest.com").replace('"${MK_SECRET}"', "hunter2")
    with pytest.raises(ConfigError) as caught:
        load_config_text(literal, "t.yaml", {})
    assert "hunter2" not in str(caught.value)


def test_many_adds_go_as_one_bulk_import_with_the_outcomes_batches_give(harness: MarketoHarness) -> None:
    cid = harness.add_container("Imported")
    refs = [harness.add_person(f"i{i}@x.example") for i in range(1000)]
    harness.add_member(cid, refs[0])  # someone else's member: never claimed
    harness.sb.state.delete_lead(int(refs[1].id))  # gone before the write
    conn = harness.connector()
    container = conn.find_container("list", "Imported")
    outcomes = conn.apply_bulk(container, [Change(ChangeAction.ADD, r) for r in refs])
    assert outcomes[0].state is OutcomeState.ALREADY_PRESENT
    assert (outcomes[1].state, outcomes[1].message) == (OutcomeState.REJECTED, "Lead not found")
    assert {o.state for o in outcomes[2:]} == {OutcomeState.APPLIED}
    assert len(harness.members(cid)) == 999
    # the list's first page, the upload, one status poll and the failed rows: not 1000/300 add calls
    assert harness.sb.server.calls(r"^/(rest|bulk)/v1/(lists/\d+/leads|leads\.json|leads/batch)") == 4


def test_a_token_is_renewed_before_its_announced_lifetime_runs_out(harness: MarketoHarness) -> None:
    conn = harness.connector()
    conn.lookup_people(["a@x.example"])
    harness.pace.advance(3600)  # the connector's clock: the hour the identity endpoint announced has passed
    harness.wall.advance(3600)  # and Marketo's
    conn.lookup_people(["a@x.example"])
    assert harness.sb.server.calls(r"^/identity/oauth/token$") == 2
    assert conn.client.refusals == {}  # renewed before Marketo had to say 602


def test_a_program_is_found_by_id_or_name_with_its_channel_statuses(harness: MarketoHarness) -> None:
    harness.sb.state.add_channel("Roadshow", [("Invited", False), ("Visited", True)])
    program = harness.sb.state.add_program("Spring roadshow", channel="Roadshow", type="Event")
    conn = harness.connector()
    by_id = conn.find_container("program", str(program))
    by_name = conn.find_container("program", "Spring roadshow")
    assert by_id == by_name
    assert [(s.label, s.responded, s.rank) for s in by_id.statuses] == [("Invited", False, 1), ("Visited", True, 2)]
    assert by_id.default_status is not None
    assert by_id.default_status.label == "Invited"
    with pytest.raises(FatalError, match="did you mean 'Spring roadshow'"):
        conn.find_container("program", "Spring roadshw")


def test_a_smart_campaign_is_refused_as_a_source_too() -> None:
    text = """client: t
connections:
  mk: {type: marketo, base_url: "https://x.mktorest.com", auth: {method: client_credentials, client_id: a, client_secret: "${S}"}}
  hs: {type: hubspot, auth: {method: private_app, token: "${S}"}}
rules:
  - name: flow
    from: {connection: mk, smart_campaign: Welcome}
    to: {connection: hs, list: L}
"""
    with pytest.raises(ConfigError, match=r"t\.yaml:7: cannot read members of this smart_campaign: .* flow"):
        load_config_text(text, "t.yaml", {"S": "x"})


def test_an_export_enqueued_twice_after_a_lost_answer_is_read_once(harness: MarketoHarness) -> None:
    harness.sb.state.add_smart_list("Everyone", {"field": "leadScore", "gte": 0})
    refs = [harness.add_person(f"e{i}@x.example", score=1) for i in range(3)]
    conn = harness.connector()
    smart = conn.find_container("list", "Everyone")
    app = harness.sb.app
    original = app.router.dispatch

    def lose_first_enqueue_answer(request):  # type: ignore[no-untyped-def]
        response = original(request)
        if request.path.endswith("/enqueue.json") and not getattr(app, "lost", False):
            app.lost = True  # type: ignore[attr-defined]
            raise ConnectionResetError("answer lost")  # the sandbox answers 500 after enqueueing
        return response

    app.router.dispatch = lose_first_enqueue_answer  # type: ignore[method-assign]
    rows = list(conn.read_members(smart))
    assert sorted(r.person.ref.id for r in rows) == sorted(r.id for r in refs)


def test_discovery_says_what_marketo_can_and_cannot_tell() -> None:
    from campaign_bridge.connectors.discovery import Need, SupportsDiscovery

    h = MarketoHarness(daily=50_000)
    try:
        conn = h.connector(h.settings(daily_quota=20_000))
        assert isinstance(conn, SupportsDiscovery)
        conn.lookup_people(["a@x.example"])
        allowance = conn.allowance()
        assert allowance is not None
        assert (allowance.used, allowance.limit) == (2, 20_000)  # the lookup and this very call
        grants = conn.check_access([Need.WRITE_MEMBERS])
        assert grants[0].granted is None
        assert "Read-Write Lead" in grants[0].fix
        assert conn.server_time() is not None
    finally:
        h.close()
