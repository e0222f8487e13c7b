"""The removal share after a failed removal: members whose removal failed are still the rule's and still
in the target, so a retry is judged against all the members the rule owns, as the first attempt was.

Found by mutation testing (the guard's ``owned`` count): the share was taken of the ``present`` rows only,
so the run retrying ten failed removals of an eleven-member list was held as "removes 10 of 1 members"
though the plan that first sent them was within the limit.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.mapping.model import Change, ChangeAction, ChangeOutcome, Container, OutcomeState
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def _unavailable(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
    """The list's answer while it is unavailable: every change failed, to be tried again."""
    return [ChangeOutcome(c, OutcomeState.FAILED, "UNAVAILABLE", "try again later") for c in changes]


def _removals_failed_once(
    world: World, members: int, leaving: int, fraction: float
) -> tuple[str, str, list[str], ClientConfig]:
    """``members`` people synced into the list; ``leaving`` of them leave the source; the run removing them
    gets a transient failure for every removal. Returns the campaign, the list, the CRM ids and the config."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = [world.crm_person(f"p{i}@x.com") for i in range(members)]
    for pid in ids:
        world.crm.add_member(camp, pid, "Responded")
    cfg = world.config(MIRROR + f"    safety: {{max_removals: 1000, max_removal_fraction: {fraction}}}\n")
    world.sync(cfg, "web")
    for pid in ids[:leaving]:
        world.crm.remove_member(camp, pid)

    engine = world.engine(cfg)
    engine.connectors["ma"].apply_changes = _unavailable  # type: ignore[method-assign]
    failed = engine.sync("web")
    assert (failed.status, failed.counts.get("failed")) == ("partial", leaving)
    assert len(world.ma_emails(lst)) == members
    world.clock.tick(60)
    return camp, lst, ids, cfg


@pytest.mark.parametrize(
    ("members", "fraction"),
    [
        (11, 1.0),  # "any share": was held as "removes 10 of 1 members"
        (40, 0.3),  # 10 of 40 is 25%; was held as 10 of the 30 left, 33%
    ],
)
def test_a_retry_of_failed_removals_is_judged_against_every_member_the_rule_owns(
    world: World, members: int, fraction: float
) -> None:
    _, lst, _, cfg = _removals_failed_once(world, members, 10, fraction)

    report = world.sync(cfg, "web")

    assert report.status == "ok", report.message
    assert report.counts.get("removed") == 10
    assert len(world.ma_emails(lst)) == members - 10


def test_a_retry_that_grew_past_the_share_is_still_held_counting_the_failed_ones_as_members(world: World) -> None:
    camp, lst, ids, cfg = _removals_failed_once(world, 40, 10, 0.3)
    for pid in ids[10:13]:
        world.crm.remove_member(camp, pid)

    report = world.sync(cfg, "web")

    assert report.status == "held"
    assert "the plan removes 13 of 40 members, more than max_removal_fraction=0.3" in report.message
    assert len(world.ma_emails(lst)) == 40


def test_adds_that_keep_failing_are_not_counted_as_members_in_the_share(world: World) -> None:
    """Newcomers whose adds fail are ``failed`` in the ledger too, but they are not in the target and not
    the rule's: only the failed removals count as members."""
    camp, lst, ids, cfg = _removals_failed_once(world, 40, 10, 0.3)
    for i in range(10):  # ten newcomers: the list refuses their adds for now, and the removals again
        world.crm.add_member(camp, world.crm_person(f"new{i}@x.com"), "Responded")
    engine = world.engine(cfg)
    engine.connectors["ma"].apply_changes = _unavailable  # type: ignore[method-assign]
    again = engine.sync("web")
    assert (again.status, again.counts.get("failed")) == ("partial", 20)
    world.clock.tick(60)

    for pid in ids[10:13]:  # three more leave; the adds keep failing
        world.crm.remove_member(camp, pid)
    engine = world.engine(cfg)
    ma = engine.connectors["ma"]
    real = ma.apply_changes

    def adds_unavailable(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        removals = [c for c in changes if c.action is ChangeAction.REMOVE]
        done = iter(real(container, removals) if removals else [])
        return [next(done) if c.action is ChangeAction.REMOVE else _unavailable(container, [c])[0] for c in changes]

    ma.apply_changes = adds_unavailable  # type: ignore[method-assign]
    report = engine.sync("web")

    assert report.status == "held"
    assert "the plan removes 13 of 40 members, more than max_removal_fraction=0.3" in report.message
    assert len(world.ma_emails(lst)) == 40
