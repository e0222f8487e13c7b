"""Why a rule may not write to its target, in the words ``validate`` and a run both print (``target_problem``).

Found by mutation testing: the refusals of a container that holds one kind of person (a Dynamics marketing
list of contacts, leads or accounts), of a list the system locks, and of member statuses the container
lacks were checked only by command-line and end-to-end tests, which a mutation run does not run.
"""

from __future__ import annotations

import pytest

from campaign_bridge.config.models import Rule
from campaign_bridge.connectors.base import Connector
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import Container, ContainerKind, MemberStatus
from campaign_bridge.sync.target import find_target, resolve_target, target_problem
from tests.sync.world import World


def _list(*, member_kind: str | None = None, writable: bool = True, reason: str | None = None) -> Container:
    return Container(
        "crm", "l1", "L", ContainerKind.STATIC_LIST, writable=writable, member_kind=member_kind, read_only_reason=reason
    )


def _problem(world: World, system: str, target: str, container: Container, match: str = "") -> str | None:
    """``target_problem`` of rule ``a`` writing to ``target`` (``connection: ...``), with ``container`` as
    what the target system found there."""
    rule = f"  - {{name: a, from: {{connection: ma, list: S}}, to: {{{target}}}{match}}}"
    return target_problem(world.config(rule).rule("a"), system, container)


@pytest.mark.parametrize(
    ("container", "match", "problem"),
    [
        (_list(writable=False, reason="the list is locked"), "", "cannot write to 'L': the list is locked"),
        (_list(writable=False), "", "cannot write to 'L': dynamics says 'L' cannot be written"),
        (
            _list(member_kind="lead"),
            "",
            "'L' holds only lead records; the rule matches contacts first: set match: {prefer: lead}",
        ),
        (
            _list(member_kind="Contact"),
            ", match: {prefer: lead}",
            "'L' holds only Contact records; the rule matches leads first: set match: {prefer: contact}",
        ),
        (
            _list(member_kind="account"),
            "",
            "'L' holds only account records; campaign-bridge writes people (contacts or leads): "
            "target a contact or lead list",
        ),
        (
            _list(member_kind="contact"),
            ", match: {create_missing: lead}",
            "'L' holds only contact records; the rule would create leads (create_missing)",
        ),
        (
            _list(member_kind="Lead"),
            ", match: {prefer: lead, create_missing: contact}",
            "'L' holds only Lead records; the rule would create contacts (create_missing)",
        ),
        (_list(member_kind="Contact"), ", match: {create_missing: contact}", None),
        (_list(member_kind="lead"), ", match: {prefer: lead, create_missing: lead}", None),
        (_list(member_kind="contact"), ", match: {create_missing: skip}", None),
        (_list(), ", match: {prefer: lead, create_missing: contact}", None),
    ],
)
def test_a_list_the_rule_cannot_write_is_refused_saying_why(
    world: World, container: Container, match: str, problem: str | None
) -> None:
    assert _problem(world, "dynamics", "connection: crm, campaign: L, status: Sent", container, match) == problem


def _campaign() -> Container:
    statuses = (MemberStatus("Sent", default=True, rank=1), MemberStatus("Attended", responded=True, rank=2))
    return Container("crm", "c1", "C", ContainerKind.CAMPAIGN, has_status=True, statuses=statuses)


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("connection: ma, list: C", "'C' needs a member status ('status:')"),
        ("connection: crm, campaign: C, status: Came", "'C' has no member status 'Came'; it has Sent, Attended"),
        ("connection: crm, campaign: C, status: attended", None),
        (
            "connection: crm, campaign: C, status_map: {Registered: Came, Joined: Came, Watched: Went, Attended: Attended}",
            "status_map: 'C' has no member status 'Came', 'Went'; it has Sent, Attended",
        ),
        ("connection: crm, campaign: C, status_map: {Registered: sent, Attended: Attended}", None),
    ],
)
def test_a_member_status_the_campaign_lacks_is_refused_naming_the_ones_it_has(
    world: World, target: str, problem: str | None
) -> None:
    assert _problem(world, "salesforce", target, _campaign()) == problem


def _ma_with_campaign_lists(world: World) -> Connector:
    """The memory MA given lists linked to campaigns, as Dynamics has: a list not in its campaign stands for
    the list the first write creates, of the kind asked (``create_as``), or is an error when none is."""
    cfg = world.config("  - {name: a, from: {connection: crm, campaign: S}, to: {connection: ma, list: L}}")
    conn = world.engine(cfg).connectors["ma"]

    def find_campaign_list(campaign: str, name: str, *, create_as: str | None) -> Container:
        if create_as is None:
            raise FatalError(f"ma: campaign {campaign!r} has no list {name!r}")
        return Container("ma", "new", name, ContainerKind.STATIC_LIST, member_kind=create_as)

    conn.find_campaign_list = find_campaign_list  # type: ignore[attr-defined]
    return conn


def _in_campaign(create_list: bool) -> Rule:
    to = {"connection": "ma", "campaign": "Spring", "list": "Nurture", "create_list": create_list}
    return Rule.model_validate(
        {"name": "a", "from": {"connection": "crm", "campaign": "S"}, "to": to, "match": {"prefer": "lead"}}
    )


@pytest.mark.parametrize("create_list", [False, True])
def test_a_list_missing_from_its_campaign_is_created_only_when_the_rule_says_create_list(
    world: World, create_list: bool
) -> None:
    """Without ``create_list`` a list not in the campaign is an error the user reads, never a list created."""
    conn = _ma_with_campaign_lists(world)
    rule = _in_campaign(create_list)
    if create_list:
        assert find_target(conn, rule.target, "lead").member_kind == "lead"
    else:
        with pytest.raises(FatalError, match="^ma: campaign 'Spring' has no list 'Nurture'$"):
            find_target(conn, rule.target, "lead")


def test_a_run_takes_the_list_to_create_in_its_campaign_as_the_rules_preferred_kind(world: World) -> None:
    conn = _ma_with_campaign_lists(world)
    target = resolve_target(_in_campaign(True), {"ma": conn})
    assert (target.container.name, target.container.member_kind) == ("Nurture", "lead")
