"""What ``validate`` says of rules that parse but make no sense for their systems, and the line it points at.

Each rule below is written in block style, one key a line, so that a message pointing at the rule, or at
the endpoint, instead of at the very key to change shows as a different line. These tests sit beside the
loader's so that a mutation run of ``config/checks.py`` reaches them first.
"""

from __future__ import annotations

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.errors import ConfigError

HEAD = """\
client: x
connections:
  crm: {type: memory-crm}
  ma: {type: memory-ma}
  hs:
    type: hubspot
    auth: {method: private_app, token: "${HS_TOKEN}"}
rules:
"""  # 8 lines: the first rule starts at line 9

HUBSPOT_CAMPAIGN = (
    "a HubSpot campaign groups assets (emails, forms, pages) and has no members; target a MANUAL list instead"
)


def _load(text: str) -> ClientConfig:
    return load_config_text(text, "client.yaml", environ={"HS_TOKEN": "pat-na1-0000"})


def _problems(rules: str, head: str = HEAD) -> list[tuple[int | None, str]]:
    """Each problem ``validate`` reports, as (line, message)."""
    with pytest.raises(ConfigError) as refused:
        _load(head + rules)
    assert {p.file for p in refused.value.problems} == {"client.yaml"}
    return [(p.line, p.message) for p in refused.value.problems]


def _rule_to(*target: str) -> str:
    """A rule from a CRM campaign to the target written one key a line (its ``to:`` at line 11)."""
    lines = "".join(f"      {line}\n" for line in target)
    return f"  - name: a\n    from: {{connection: crm, campaign: S}}\n    to:\n{lines}"


def _rule_from(*source: str) -> str:
    """A rule from the source written one key a line (its ``from:`` at line 10) to a CRM campaign."""
    lines = "".join(f"      {line}\n" for line in source)
    return f"  - name: a\n    from:\n{lines}    to: {{connection: crm, campaign: T, status: Sent}}\n"


@pytest.mark.parametrize(
    ("target", "line", "message"),
    [
        (
            ("connection: ma", "list: L", "status: Sent"),
            14,
            "a memory-ma list has no member status; remove 'status'",
        ),
        (
            ("connection: ma", "list: L", "status_map: {Sent: Sent}"),
            14,
            "a memory-ma list has no member status; remove 'status_map'",
        ),
        (
            ("connection: crm", "campaign: C", "status: Sent", "member_status: [Sent]"),
            15,
            "member_status filters a source; on a target use 'status'",
        ),
        (
            ("connection: ma", "segment: {field: score, gte: 5}"),
            13,
            "a segment can only be a source: it is a filter, not a container",
        ),
        (
            ("connection: hs", "campaign: Spring"),
            13,
            f"cannot write to this campaign: {HUBSPOT_CAMPAIGN}",
        ),
        (
            ("connection: ma", "tag: VIP"),
            13,
            "memory-ma has no 'tag' containers; it has: list, campaign, program",
        ),
    ],
)
def test_a_target_key_its_container_cannot_take_is_refused_at_that_key(
    target: tuple[str, ...], line: int, message: str
) -> None:
    assert _problems(_rule_to(*target)) == [(line, message)]


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        (
            ("connection: ma", "list: L", "status: Sent"),
            13,
            "'status' sets a target's member status; on a source use member_status",
        ),
        (
            ("connection: ma", "list: L", "status_map: {Sent: Sent}"),
            13,
            "status_map belongs on the rule's target ('to:')",
        ),
        (
            ("connection: ma", "list: L", "member_status: [Sent]"),
            13,
            "a memory-ma list has no member statuses to filter on",
        ),
        (
            ("connection: hs", "campaign: Spring"),
            12,
            f"cannot read members of this campaign: {HUBSPOT_CAMPAIGN}",
        ),
    ],
)
def test_a_source_key_its_container_cannot_take_is_refused_at_that_key(
    source: tuple[str, ...], line: int, message: str
) -> None:
    assert _problems(_rule_from(*source)) == [(line, message)]


def test_a_campaign_source_filters_on_member_status_and_a_program_target_maps_it() -> None:
    rules = """\
  - name: a
    from: {connection: crm, campaign: C, member_status: [Responded]}
    to: {connection: ma, program: P, status_map: {Responded: Attended}}
"""
    rule = _load(HEAD + rules).rules[0]

    assert rule.source.member_status == ("Responded",)
    assert rule.target.status_map == {"Responded": "Attended"}


def test_an_unknown_connection_is_refused_at_its_connection_key_with_a_hint_only_when_one_is_close() -> None:
    rules = """\
  - name: a
    from:
      connection: warehouse
      campaign: C
    to:
      connection: crmm
      campaign: D
      status: Sent
"""
    assert _problems(rules) == [
        (11, "unknown connection 'warehouse'"),
        (14, "unknown connection 'crmm'; did you mean 'crm'?"),
    ]


def test_a_rule_that_fails_validation_still_has_its_target_connection_checked() -> None:
    rules = """\
  - name: a
    from: {connection: crm, campaign: C}
    to:
      connection: crms
      campaign: D
      status: Sent
    shedule: {every: 15m}
"""
    assert _problems(rules) == [
        (12, "unknown connection 'crms'; did you mean 'crm'?"),
        (15, "unknown key 'shedule' in rule 'a'; did you mean 'schedule'?"),
    ]


def test_a_rule_name_used_twice_is_refused_at_the_second_name() -> None:
    rules = """\
  - from: {connection: crm, campaign: A}
    to: {connection: ma, list: L}
    name: nurture
  - from: {connection: crm, campaign: B}
    to: {connection: ma, list: M}
    name: nurture
"""
    assert _problems(rules) == [(14, "rule name 'nurture' is used twice")]


def test_a_rule_reading_and_writing_one_container_is_refused_at_its_to() -> None:
    rules = """\
  - name: a
    from:
      connection: ma
      list: L
    to:
      connection: ma
      list: L
"""
    assert _problems(rules) == [(13, "rule 'a' reads and writes the same container")]


def test_creating_leads_from_a_crm_source_is_refused_at_create_missing() -> None:
    rules = """\
  - name: a
    from: {connection: crm, campaign: C}
    to: {connection: ma, list: L}
    match:
      prefer: contact
      create_missing: lead
"""
    assert _problems(rules) == [(14, "create_missing: lead only makes sense for a CRM target")]


def test_creating_leads_in_a_marketing_list_is_refused_whatever_the_source() -> None:
    rules = """\
  - name: a
    from: {connection: ma, list: Webinar}
    to: {connection: ma, list: Nurture}
    match:
      prefer: contact
      create_missing: lead
"""
    assert _problems(rules) == [(14, "create_missing: lead only makes sense for a CRM target")]


def test_creating_leads_for_a_campaign_fed_by_another_campaign_loads() -> None:
    rules = """\
  - name: a
    from: {connection: crm, campaign: Webinar}
    to: {connection: crm, campaign: Follow-up, status: Sent}
    match: {create_missing: lead}
"""
    assert _load(HEAD + rules).rules[0].match.create_missing == "lead"


def test_creating_leads_in_the_crm_from_a_marketing_list_loads() -> None:
    rules = """\
  - name: a
    from: {connection: ma, list: L}
    to: {connection: crm, campaign: C, status: Sent}
    match: {create_missing: lead}
"""
    assert _load(HEAD + rules).rules[0].match.create_missing == "lead"


def test_a_rule_cycle_is_reported_at_the_to_of_its_first_rule() -> None:
    rules = """\
  - name: out
    from: {connection: crm, campaign: C}
    to:
      connection: ma
      list: L
  - name: back
    from: {connection: ma, list: L}
    to: {connection: crm, campaign: C, status: Sent}
"""
    assert _problems(rules) == [
        (11, "rule cycle: out → back → out (each rule feeds the next one's source; break the loop)")
    ]


def test_a_segment_condition_is_refused_at_its_own_field_or_contains_key() -> None:
    rules = """\
  - name: a
    from:
      connection: hs
      segment:
        all:
          - eq: A
            field: grade
          - field: email
            contains: "a*b"
    to: {connection: ma, list: L}
"""
    problems = _problems(rules)

    assert [line for line, _ in problems] == [15, 17]
    assert problems[0][1].startswith("hubspot cannot filter people on grade; it can on: company, country,")
    assert problems[1][1] == (
        "hubspot reads * in a search as a wildcard and cannot escape it, so contains 'a*b' would match far "
        "more people than hold that text; remove it"
    )


def test_alert_targets_are_checked_with_the_rules() -> None:
    head = HEAD.replace("rules:\n", "alerts:\n  targets:\n    - nonsense\nrules:\n")  # the target at line 10
    rules = "  - {name: a, from: {connection: crm, campaign: C}, to: {connection: ma, list: L}}\n"

    assert _problems(rules, head) == [
        (10, "alerts.targets[0]: not a notification URL (write e.g. mailto://…, json://…, slack://…)")
    ]
