"""An exclusive slot held through a rule no longer in the file (``sync/diff.py``): with ``exclusive: priority``
that rule ranks below every rule in the file, whatever number a rule's ``priority`` is. It used to rank as
priority 1,000,000, so a rule numbered that or higher left the member where the deleted rule had put them."""

from __future__ import annotations

import pytest

from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.sync.plan import Kind
from tests.sync.world import World

EXCLUSIVE = """
  - name: {name}
    from: {{connection: crm, campaign: {source}}}
    to: {{connection: ma, campaign: {target}}}
    exclusive: {policy}
    priority: {priority}
"""


@pytest.mark.parametrize("priority", [1_000_000, 5_000_000])
def test_a_priority_rule_of_any_number_wins_the_slot_from_a_rule_no_longer_in_the_file(
    world: World, priority: int
) -> None:
    world.ma_person("both@x.com")
    pid = world.crm_person("both@x.com")
    for name in ("Spring", "Autumn"):
        world.crm.add_member(world.campaign(name), pid)
    spring, autumn = (
        world.ma_list(name, ContainerKind.EXCLUSIVE_CAMPAIGN, family="prospect-campaign")
        for name in ("Spring touch", "Autumn touch")
    )
    first = EXCLUSIVE.format(name="spring", source="Spring", target="Spring touch", policy="keep_first", priority=1)
    second = EXCLUSIVE.format(
        name="autumn", source="Autumn", target="Autumn touch", policy="priority", priority=priority
    )
    world.sync(world.config(first + second), "spring")
    assert world.ma_emails(spring) == {"both@x.com"}

    report = world.sync(world.config(second), "autumn")  # spring was deleted from the file

    assert world.ma_emails(autumn) == {"both@x.com"}
    assert world.ma_emails(spring) == set()
    said = [d.detail for d in report.decisions if d.kind is Kind.EXCLUSIVE_TARGET]
    assert said == [f"already in {spring} through rule 'spring'; priority: moved here"]
