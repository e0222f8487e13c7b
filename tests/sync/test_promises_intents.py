"""What a run stopped mid-batch left behind, settled by the next run from what the target says: whose
member it is (so whether the rule may ever remove it), told in the decision log."""

from __future__ import annotations

import pytest

from campaign_bridge.connectors.memory import ADDED_BY
from campaign_bridge.sync.plan import Kind
from campaign_bridge.sync.store.states import LedgerState
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
    safety: {max_removals: 10, max_removal_fraction: 1.0}
"""


@pytest.mark.parametrize(
    ("state", "ours", "says", "owned"),
    [
        (
            LedgerState.PENDING,
            True,
            "added by a run that stopped before recording it (the target shows this integration added it): "
            "this rule's own",
            True,
        ),
        (
            LedgerState.PENDING,
            False,
            "a member someone else added, found after a run that stopped had sent the add: not added by this "
            "rule, so never removed by it",
            False,
        ),
        (
            LedgerState.REMOVING,
            True,
            "still a member this integration added: the removal a stopped run sent never landed; still this rule's own",
            True,
        ),
        (
            LedgerState.REMOVING,
            False,
            "a member someone else added again after a run that stopped had removed it: not added by this rule, "
            "so never removed by it",
            False,
        ),
    ],
)
def test_a_stopped_runs_change_is_settled_by_who_the_target_says_added_the_member(
    world: World, state: LedgerState, ours: bool, says: str, owned: bool
) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(camp, ada, "Responded")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    # what a stopped run leaves: the ledger row's intent, and the member as the target holds it
    key = next(iter(world.store.ledger_keys("web")))
    row = world.store.ledger("web", [key])[key]
    world.store.write_ledger([row._replace(state=state, owned=state is LedgerState.REMOVING)])
    member = world.ma.containers[lst].members[row.target_record_id or ""]
    member.added_by = ADDED_BY if ours else "a person, by hand"

    report = world.sync(cfg, "web")

    settled = [d.detail for d in report.decisions if d.kind is Kind.ALREADY_MEMBER]
    assert settled == [says]
    assert world.store.ledger("web", [key])[key].state is LedgerState.PRESENT
    # whose member it is decides whether the rule removes it once it leaves the source
    world.crm.remove_member(camp, ada)
    world.sync(cfg, "web", full=True)
    assert world.ma_emails(lst) == (set() if owned else {"ada@x.com"})
