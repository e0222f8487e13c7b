"""Property: whatever happens in between, repeated runs converge to exactly the desired membership.

Random source changes, random manual edits in the target (by people, on members the rule never added),
and random crashes between apply batches or inside one (after the target applied it, before its outcomes
were recorded). After the dust settles the target holds exactly the source's
qualifying members plus the hand-added ones; no hand-added member was ever removed by the rule; and a
run with nothing to do writes nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from campaign_bridge.connectors.memory import MemoryMA
from campaign_bridge.sync import pipeline
from tests.sync.world import World


class Crash(Exception):
    """Stands for the process dying between two batches."""


RULE = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    mode: mirror
    safety: {max_removals: 1000, max_removal_fraction: 1.0}
"""

SOURCE_PEOPLE = 10
MANUAL_PEOPLE = 4

ops = st.lists(
    st.one_of(
        st.tuples(st.just("src_add"), st.integers(0, SOURCE_PEOPLE - 1)),
        st.tuples(st.just("src_remove"), st.integers(0, SOURCE_PEOPLE - 1)),
        st.tuples(st.just("manual_add"), st.integers(0, MANUAL_PEOPLE - 1)),
        st.tuples(st.just("manual_remove"), st.integers(0, MANUAL_PEOPLE - 1)),
        st.tuples(st.just("run"), st.one_of(st.none(), st.integers(0, 4))),
        st.tuples(st.just("run_mid"), st.integers(0, 4)),
    ),
    min_size=1,
    max_size=25,
)


#: Examples per run: scripts/mutation.sh asks for fewer (the test runs again for every mutant of the engine
#: that no quicker test kills), which can only let a mutant live that more examples would catch.
EXAMPLES = int(os.environ.get("CB_CONVERGENCE_EXAMPLES", "60"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# chunk: how many source records a run plans at a time (the pipeline's CHUNK): 3 splits the 10 people's
# reads into several chunks, with crashes between them. eager: how many adds a run that cannot be held
# (a first sync) writes while it reads (EAGER_WRITE, EAGER_BULK): 2 makes it write between chunks.
@given(
    ops=ops,
    chunk=st.sampled_from([3, pipeline.CHUNK]),
    eager=st.sampled_from([2, pipeline.EAGER_WRITE]),
)
# A crash after the snapshot forgot a removed source record, before the removal reached the target.
@example(
    ops=[("src_add", 0), ("run", None), ("src_remove", 0), ("run", 0)],
    chunk=pipeline.CHUNK,
    eager=pipeline.EAGER_WRITE,
)
# A crash after the target applied an add, before the run recorded it: the add is still the rule's own.
@example(
    ops=[("src_add", 0), ("run_mid", 0), ("src_remove", 0), ("run", None)],
    chunk=pipeline.CHUNK,
    eager=pipeline.EAGER_WRITE,
)
def test_runs_converge_and_never_remove_what_they_do_not_own(
    ops: list[tuple[str, int | None]], chunk: int, eager: int
) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.object(pipeline, "CHUNK", chunk),
        mock.patch.object(pipeline, "EAGER_WRITE", eager),
        mock.patch.object(pipeline, "EAGER_BULK", eager),
    ):
        w = World(Path(tmp))
        try:
            _scenario(w, ops)
        finally:
            w.close()


def _scenario(w: World, ops: list[tuple[str, int | None]]) -> None:
    camp, lst = w.campaign("Webinar"), w.ma_list("Nurture")
    src = [w.crm_person(f"s{i}@x.com") for i in range(SOURCE_PEOPLE)]
    for i in range(SOURCE_PEOPLE):
        w.ma_person(f"s{i}@x.com") if i % 2 else None  # half exist in the MA already, half get created
    manual = [w.ma_person(f"m{i}@x.com") for i in range(MANUAL_PEOPLE)]
    cfg = w.config(RULE)
    hand_added: set[str] = set()

    def run(crash_after: int | None, *, mid_batch: bool = False) -> None:
        engine = w.engine(cfg)
        ma = engine.connectors["ma"]
        assert isinstance(ma, MemoryMA)
        ma.write_batch_size = 2  # type: ignore[misc]  # many batches, many places to crash
        real = ma.apply_changes
        batches = 0

        def apply(container, changes):  # type: ignore[no-untyped-def]
            nonlocal batches
            if crash_after is not None and batches >= crash_after and not mid_batch:
                raise Crash
            batches += 1
            outcomes = real(container, changes)
            if crash_after is not None and batches > crash_after:
                raise Crash  # the target applied the batch; the run never learns its outcomes
            return outcomes

        ma.apply_changes = apply  # type: ignore[method-assign]
        before = {w.ma.people[p].email for p in w.ma.members(lst)} & {f"m{i}@x.com" for i in range(MANUAL_PEOPLE)}
        try:
            engine.sync("web")
        except Crash:
            pass
        finally:
            w.clock.tick(30)
        after = w.ma_emails(lst)
        assert before <= after, "the rule removed a member it did not add"

    for op, arg in ops:
        if op == "src_add":
            w.crm.add_member(camp, src[arg])
        elif op == "src_remove":
            w.crm.remove_member(camp, src[arg])
        elif op == "manual_add":
            w.ma.add_member(lst, manual[arg])
            hand_added.add(f"m{arg}@x.com")
        elif op == "manual_remove":
            w.ma.remove_member(lst, manual[arg])
            hand_added.discard(f"m{arg}@x.com")
        elif op == "run_mid":
            run(arg, mid_batch=True)
        else:
            run(arg)
        w.clock.tick(1)

    for _ in range(3):  # settle: no crashes now
        run(None)
    desired = {w.crm.people[p].email or "" for p in w.crm.members(camp)}
    assert w.ma_emails(lst) == desired | hand_added
    calls = w.ma.calls
    report = w.engine(cfg).sync("web")
    assert report.counts.get("added", 0) == report.counts.get("removed", 0) == 0
    assert w.ma.calls - calls == 1  # the container listing; no lookup, no write
