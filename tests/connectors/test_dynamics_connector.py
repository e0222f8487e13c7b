"""The Dynamics connector against the Dataverse sandbox over HTTPS: sign-in (secret, certificate, refusals,
renewal), campaigns and their statuses, list reads over pages, writes the lists refuse, and the pacing under
the service protection limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from campaign_bridge.connectors.dynamics import DynamicsConnector, reads
from campaign_bridge.connectors.dynamics import client as dv_client
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.errors import AuthError, FatalError, TransientError
from campaign_bridge.mapping.model import Change, ChangeAction, ContainerKind, OutcomeState, RecordRef
from campaign_bridge.sandbox.dynamics import DynamicsSandbox
from tests.contract.harness_dynamics import settings_for


class Clock:
    """A monotonic clock both sides share; ``sleep`` moves it instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sandbox() -> Iterator[DynamicsSandbox]:
    with DynamicsSandbox() as sb:
        yield sb


def connector(sb: DynamicsSandbox, **settings: object) -> DynamicsConnector:
    return DynamicsConnector(
        "d365", settings_for(sb, **settings), policy=CallPolicy(attempts=3, sleep=lambda _: None), sleep=lambda _: None
    )


def test_a_certificate_signs_in_through_msal(sandbox: DynamicsSandbox) -> None:
    creds = sandbox.credentials()
    auth = {
        "method": "certificate",
        "client_id": creds["client_id"],
        "private_key_file": creds["private_key_file"],
        "thumbprint": creds["thumbprint"],
    }
    sandbox.state.add_list("Newsletter", "contact")
    conn = connector(sandbox, auth=auth)
    assert [c.name for c in conn.list_containers()] == ["Newsletter"]
    assert sandbox.server.calls(r"/oauth2/v2.0/token", "POST") == 1


def test_a_wrong_secret_is_refused_with_entra_ids_words_and_never_echoed(sandbox: DynamicsSandbox) -> None:
    creds = sandbox.credentials()
    wrong = "not-the-secret-" + "x" * 20
    conn = connector(sandbox, auth={"method": "client_secret", "client_id": creds["client_id"], "client_secret": wrong})
    with pytest.raises(AuthError, match="AADSTS7000215") as caught:
        conn.list_containers()
    assert wrong not in str(caught.value)
    assert sandbox.server.calls(r"/api/data/") == 0


def test_an_unknown_tenant_is_refused(sandbox: DynamicsSandbox) -> None:
    conn = connector(sandbox, tenant_id="contoso.onmicrosoft.com")
    with pytest.raises(AuthError, match="contoso.onmicrosoft.com"):
        conn.list_containers()


def test_an_entra_id_failure_is_transient_and_names_entra_id(sandbox: DynamicsSandbox) -> None:
    sandbox.state.add_list("Newsletter", "contact")
    sandbox.server.faults.configure(path_pattern="/oauth2/v2.0/token")
    sandbox.server.faults.queue("error", 1)
    conn = DynamicsConnector("d365", settings_for(sandbox), policy=CallPolicy(attempts=1))
    with pytest.raises(TransientError, match="Entra ID token failed: HTTP Error: 503"):
        conn.list_containers()
    for cache in dv_client._HTTP_CACHES.values():
        cache.clear()  # msal answers the 503 again for 5 s: what the call policy's backoff waits out
    assert [c.name for c in conn.list_containers()] == ["Newsletter"]


def test_an_expired_token_is_renewed_once_and_the_call_repeated(sandbox: DynamicsSandbox) -> None:
    sandbox.state.add_list("Newsletter", "contact")
    conn = connector(sandbox)
    conn.list_containers()
    sandbox.state.expire_tokens()
    assert [c.name for c in conn.list_containers() if c.kind is ContainerKind.STATIC_LIST] == ["Newsletter"]
    assert sandbox.server.calls(r"/oauth2/v2.0/token", "POST") == 2


def test_a_campaign_reads_its_lists_members_with_their_response_status(sandbox: DynamicsSandbox) -> None:
    s = sandbox.state
    camp = s.add_campaign("Webinar")
    contacts = s.add_list("Registrants", "contact", campaign=camp)
    leads = s.add_list("Lead registrants", "lead", campaign=camp)
    ada, grace = s.add_contact("ada@x.example"), s.add_contact("grace@x.example")
    alan = s.add_lead("alan@x.example")
    for lst, who in ((contacts, ada), (contacts, grace), (leads, alan)):
        s.add_member(lst, who)
    s.add_response(camp, ada, 1)  # Interested
    s.add_response(camp, ada, 2)  # Not Interested: later in the option order, so the stronger
    s.add_response(camp, alan, 1)
    conn = connector(sandbox)
    campaign = conn.find_container("campaign", "Webinar")
    assert campaign.kind is ContainerKind.CAMPAIGN
    assert not campaign.writable
    assert [s.label for s in campaign.statuses][:3] == ["Member", "Interested", "Not Interested"]
    assert campaign.default_status is not None
    assert campaign.default_status.label == "Member"
    assert campaign.size == 3
    rows = {(r.person.ref.kind, r.person.ref.id): r.status for r in conn.read_members(campaign)}
    assert rows == {("contact", ada): "Not Interested", ("contact", grace): "Member", ("lead", alan): "Interested"}
    # An unchanged campaign keeps its membership version; a new response moves it.
    again = conn.find_container("campaign", camp)
    assert again.membership_version == campaign.membership_version
    s.add_response(camp, grace, 1)
    assert conn.find_container("campaign", camp).membership_version != campaign.membership_version


def test_reads_follow_pages_of_static_and_dynamic_lists(
    sandbox: DynamicsSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dv_client, "PAGE_SIZE", 2)
    monkeypatch.setattr(reads, "PAGE_SIZE", 2)
    monkeypatch.setattr(reads, "PAGE", {"Prefer": "odata.maxpagesize=2"})
    s = sandbox.state
    static = s.add_list("Static", "contact")
    query = (
        '<fetch><entity name="contact"><filter><condition attribute="emailaddress1" operator="like" '
        'value="%@dyn.example"/></filter></entity></fetch>'
    )
    dynamic = s.add_list("Dynamic", "contact", query=query)
    people = [s.add_contact(f"p{i}@dyn.example") for i in range(5)]
    for p in people:
        s.add_member(static, p)
    conn = connector(sandbox)
    for lid in (static, dynamic):
        container = conn.find_container("list", lid)
        assert sorted(r.person.ref.id for r in conn.read_members(container)) == sorted(people)
    assert sandbox.server.calls(r"/listcontact_association") == 3  # pages of 2, 2 and 1
    assert sandbox.server.calls(r"/contacts$") == 3


def test_a_qualified_lead_names_the_contact_it_became(sandbox: DynamicsSandbox) -> None:
    s = sandbox.state
    lead = s.add_lead("margaret@hooli.example", "Margaret", "Hamilton")
    contact = s.qualify_lead(lead)
    found = connector(sandbox).lookup_people(["margaret@hooli.example"])["margaret@hooli.example"]
    by_kind = {p.ref.kind: p for p in found}
    assert by_kind["lead"].converted_to == RecordRef("d365", "contact", contact)
    assert by_kind["contact"].converted_to is None


def test_campaign_list_statuses_are_written_as_responses_and_never_lowered(sandbox: DynamicsSandbox) -> None:
    s = sandbox.state
    camp = s.add_campaign("Pricing")
    lst = s.add_list("Responders", "contact", campaign=camp)
    p, q = s.add_contact("p@x.example"), s.add_contact("q@x.example")
    conn = connector(sandbox)
    target = conn.find_campaign_list("Pricing", "Responders", create_as=None)
    assert target.has_status
    assert target.member_kind == "contact"
    pref, qref = RecordRef("d365", "contact", p), RecordRef("d365", "contact", q)
    out = conn.apply_changes(target, [Change(ChangeAction.ADD, pref, "Member"), Change(ChangeAction.ADD, qref, "Nope")])
    assert [o.state for o in out] == [OutcomeState.APPLIED, OutcomeState.REJECTED]
    assert s.static_members(lst) == [p]
    assert s.responses_of(camp) == {}
    up = conn.apply_changes(target, [Change(ChangeAction.SET_STATUS, pref, "Not Interested")])
    assert up[0].state is OutcomeState.APPLIED
    down = conn.apply_changes(target, [Change(ChangeAction.SET_STATUS, pref, "Interested")])
    assert (down[0].state, down[0].current_status) == (OutcomeState.ALREADY_PRESENT, "Not Interested")
    assert s.responses_of(camp) == {p: 2}
    fresh = connector(sandbox)  # a new run reads what Dynamics holds
    again = fresh.apply_changes(
        fresh.find_campaign_list("Pricing", lst, create_as=None), [Change(ChangeAction.ADD, pref, "Interested")]
    )
    assert (again[0].state, again[0].current_status) == (OutcomeState.ALREADY_PRESENT, "Not Interested")


def test_a_member_of_another_type_is_refused_per_record(sandbox: DynamicsSandbox) -> None:
    s = sandbox.state
    lst = s.add_list("Contacts only", "contact")
    contact, lead = s.add_contact("c@x.example"), s.add_lead("l@x.example")
    conn = connector(sandbox)
    target = conn.find_container("list", "Contacts only")
    out = conn.apply_changes(
        target,
        [
            Change(ChangeAction.ADD, RecordRef("d365", "lead", lead)),
            Change(ChangeAction.ADD, RecordRef("d365", "contact", contact)),
        ],
    )
    assert [(o.state, o.code) for o in out] == [
        (OutcomeState.REJECTED, "WRONG_MEMBER_TYPE"),
        (OutcomeState.APPLIED, None),
    ]
    assert s.static_members(lst) == [contact]


def test_a_deleted_record_is_refused_alone_when_the_whole_add_is_refused(sandbox: DynamicsSandbox) -> None:
    s = sandbox.state
    lst = s.add_list("Contacts", "contact")
    a = s.add_contact("a@x.example")
    gone = "00000000-0000-0000-0000-000000000001"
    conn = connector(sandbox)
    out = conn.apply_changes(
        conn.find_container("list", lst),
        [
            Change(ChangeAction.ADD, RecordRef("d365", "contact", gone)),
            Change(ChangeAction.ADD, RecordRef("d365", "contact", a)),
        ],
    )
    assert [(o.state, o.code) for o in out] == [(OutcomeState.REJECTED, "0x80040217"), (OutcomeState.APPLIED, None)]
    assert s.static_members(lst) == [a]


def test_a_locked_list_is_never_written(sandbox: DynamicsSandbox) -> None:
    s = sandbox.state
    lst = s.add_list("Imported", "contact", locked=True)
    p = s.add_contact("p@x.example")
    conn = connector(sandbox)
    container = conn.find_container("list", lst)
    assert not container.writable
    assert container.read_only_reason
    assert "locked" in container.read_only_reason
    posts = sandbox.server.calls(r"/api/data/", "POST")
    with pytest.raises(FatalError, match="locked"):
        conn.apply_changes(container, [Change(ChangeAction.ADD, RecordRef("d365", "contact", p))])
    assert sandbox.server.calls(r"/api/data/", "POST") == posts
    assert s.static_members(lst) == []


def test_limits_on_the_pacer_keeps_under_the_window_and_a_429_is_waited_out() -> None:
    clock = Clock()
    with DynamicsSandbox(limits=True, requests=5, window=10.0, monotonic=clock) as sb:
        s = sb.state
        for i in range(3):
            s.add_list(f"L{i}", "contact")
        conn = DynamicsConnector(
            "d365",
            settings_for(sb, requests_per_window=5, window_seconds=10.0),
            policy=CallPolicy(attempts=3, sleep=clock.sleep),
            monotonic=clock,
            sleep=clock.sleep,
        )
        for _ in range(12):
            conn.find_container("list", "L1")
        assert sb.limits.refused == 0
        assert clock.now >= 1000.0 + 20.0  # twelve calls at five per ten seconds
        # Another integration spends the same user's window: Dynamics answers 429 and Retry-After is honoured.
        clock.sleep(10.0)
        for _ in range(5):
            assert sb.limits.admit(s.app.client_id) is None
            sb.limits.done(s.app.client_id, 1.0)
        assert conn.find_container("list", "L2").name == "L2"
        assert sb.limits.refused == 1
        assert conn.client.rate_limited >= 1


def test_member_origin_tells_the_integrations_adds_from_a_persons(sandbox: DynamicsSandbox) -> None:
    s = sandbox.state
    camp = s.add_campaign("Pricing")
    lst = s.add_list("Responders", "contact", campaign=camp)
    ours, theirs, outsider = (s.add_contact(f"{w}@x.example") for w in ("ours", "theirs", "outsider"))
    s.add_member(lst, theirs)  # added by a person in Dynamics
    s.add_response(camp, theirs, 2)
    conn = connector(sandbox)
    target = conn.find_campaign_list("Pricing", "Responders", create_as=None)
    conn.apply_changes(target, [Change(ChangeAction.ADD, RecordRef("d365", "contact", ours), "Interested")])
    before = sandbox.server.calls(r"/api/data/")
    refs = [RecordRef("d365", "contact", r) for r in (ours, theirs, outsider)]
    fresh = connector(sandbox)  # the next run's, after a kill
    origin = fresh.member_origin(fresh.find_campaign_list("Pricing", "Responders", create_as=None), refs)
    assert origin[ours].added_by_us is True
    assert origin[ours].status == "Interested"
    assert origin[theirs].added_by_us is False
    assert origin[theirs].status == "Not Interested"
    assert outsider not in origin
    assert sandbox.server.calls(r"/api/data/") - before == 2  # a find and one $batch


def test_a_segment_reads_contacts_and_leads_through_escaped_odata_filters(sandbox: DynamicsSandbox) -> None:
    from datetime import UTC, datetime, timedelta

    from campaign_bridge.mapping.segment import parse_segment

    s = sandbox.state
    old = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fr = s.add_contact("ada@x.example", "Ada", "O'Hara", address1_country="France")
    s.add_contact("bob@x.example", "Bob", "B", address1_country="France", createdon=old)
    lead = s.add_lead("lea@x.example", "Lea", "L", "O'Brien & Co", address1_country="France")
    s.add_lead("leo@x.example", "Leo", "L", "Other", address1_country="Spain")
    segment = parse_segment(
        {"all": [{"field": "country", "eq": "France"}, {"field": "created_at", "within": "30d"},
                 {"any": [{"field": "last_name", "eq": "O'Hara"}, {"field": "company", "contains": "O'Brien"}]}]}
    )  # fmt: skip
    conn = connector(sandbox)
    found = {(r.person.ref.kind, r.person.ref.id) for r in conn.read_segment(segment)}
    assert found == {("contact", fr), ("lead", lead)}
    with pytest.raises(FatalError, match="cannot filter people on score"):
        list(conn.read_segment(parse_segment({"field": "score", "gte": 5})))


def test_an_unknown_campaign_or_list_is_named_with_close_matches(sandbox: DynamicsSandbox) -> None:
    s = sandbox.state
    s.add_list("Newsletter", "contact", campaign=s.add_campaign("Webinar 2026"))
    conn = connector(sandbox)
    with pytest.raises(FatalError, match="no campaign named 'Webinar 2025'; did you mean 'Webinar 2026'"):
        conn.find_campaign_list("Webinar 2025", "Newsletter", create_as=None)
    with pytest.raises(FatalError, match="no list named 'Newsleter' .*'Newsletter'"):
        conn.find_campaign_list("Webinar 2026", "Newsleter", create_as=None)
    with pytest.raises(FatalError, match="did you mean 'Newsletter'"):
        conn.find_container("list", "Newsleter")


def test_bad_settings_are_refused_at_load_with_the_line_and_no_secret() -> None:
    from campaign_bridge.config.loader import load_config_text
    from campaign_bridge.errors import ConfigError

    text = """\
client: t
connections:
  d365:
    type: dynamics
    url: http://contoso.crm4.dynamics.com
    tenant_id: contoso.onmicrosoft.com
    auth: {method: certificate, client_id: abc, private_key_file: key.pem, thumbprint: "not-a-thumbprint"}
  d366:
    type: dynamics
    url: https://contoso.crm4.dynamics.com
    tenant_id: contoso.onmicrosoft.com
    auth: {method: client_secret, client_id: abc, client_secret: "${D365_SECRET}"}
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "client.yaml", {"D365_SECRET": "s3cr3t-value"})
    message = str(caught.value)
    assert "client.yaml:5" in message
    assert "https://" in message
    assert "thumbprint" in message
    assert "s3cr3t-value" not in message
    literal = text.replace('"${D365_SECRET}"', "plain-secret")
    with pytest.raises(ConfigError, match="secret"):
        load_config_text(literal.replace("http://", "https://").replace('"not-a-thumbprint"', "A" * 40), "c.yaml", {})


def test_a_write_refused_by_service_protection_is_sent_again_after_retry_after() -> None:
    clock = Clock()
    with DynamicsSandbox(monotonic=clock) as sb:
        s = sb.state
        lst = s.add_list("Contacts", "contact")
        p = s.add_contact("p@x.example")
        conn = DynamicsConnector(
            "d365",
            settings_for(sb),
            policy=CallPolicy(attempts=3, sleep=clock.sleep),
            monotonic=clock,
            sleep=clock.sleep,
        )
        target = conn.find_container("list", lst)
        conn.writer.state(lst, None)  # what the list holds, read first
        sb.server.faults.configure(error_status=429, path_pattern=r"\$batch")
        sb.server.faults.queue("error", 1)
        before = clock.now
        out = conn.apply_changes(target, [Change(ChangeAction.ADD, RecordRef("d365", "contact", p))])
        assert [o.state for o in out] == [OutcomeState.APPLIED]
        assert s.static_members(lst) == [p]
        assert clock.now - before >= 5.0  # held for the wait before sending the write again
