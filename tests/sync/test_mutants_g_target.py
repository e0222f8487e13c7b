"""Why a rule may not write to its target, in the words ``validate`` and a run both print (``target_problem``).

Found by mutation testing: the refusals of a container that holds one kind of person (a Dynamics marketing
list of contacts, leads or accounts), of a list the system locks, and of member statuses the container
lacks were checked only by command-line and end-to-end tests, which a mutation run does not run.
"""

from __future__ import annotations

import pytest

from campaign_bridge.config.models import Rule
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import Container, ContainerKind, MemberStatus
from campaign_bridge.sync.target import find_target, target_problem
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


@pytest.mark.parametrize("create_list", [False, True])
def test_a_list_missing_from_its_campaign_is_created_only_when_the_rule_says_create_list(
    world: World, create_list: bool
) -> None:
    """Dynamics' way (a campaign with the list to write in it), on the memory MA given such lists: without
    ``create_list`` a list not in the campaign is an error the user reads, never a list created."""
    cfg = world.config("  - {name: a, from: {connection: crm, campaign: S}, to: {connection: ma, list: L}}")
    conn = world.engine(cfg).connectors["ma"]

    def find_campaign_list(campaign: str, name: str, *, create_as: str | None) -> Container:
        if create_as is None:
            raise FatalError(f"ma: campaign {campaign!r} has no list {name!r}")
        return Container("ma", "new", name, ContainerKind.STATIC_LIST, member_kind=create_as)

    conn.find_campaign_list = find_campaign_list  # type: ignore[attr-defined]
    to = {"connection": "ma", "campaign": "Spring", "list": "Nurture", "create_list": create_list}
    rule = Rule.model_validate({"name": "a", "from": {"connection": "crm", "campaign": "S"}, "to": to})

    if create_list:
        assert find_target(conn, rule.target, "lead").member_kind == "lead"
    else:
        with pytest.raises(FatalError, match="^ma: campaign 'Spring' has no list 'Nurture'$"):
            find_target(conn, rule.target, "lead")
