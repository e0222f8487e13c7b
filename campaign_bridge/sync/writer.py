"""The batch writer: how planned items reach a target and their outcomes reach the state (DESIGN §5,
step 6). ``sync`` writes its plan through it and ``reconcile --repair`` its fixes, so both are recorded,
and survive a kill, the same way.

For each batch: the intent of its adds goes to the ledger (``pending``, owned) → the batch is sent
(``apply_changes``, or ``apply_bulk`` for a bulk-sized set) → each outcome goes to the ledger and its
decision to the decision log → the lease is renewed. Follow-ups the outcomes call for (a member already
there with a lower status is raised; ``latest_wins`` moves a member out of an occupied exclusive slot)
are written after the items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from campaign_bridge.config.models import Rule
from campaign_bridge.connectors.base import Apply, writer_for
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import Change, ChangeAction, ChangeOutcome, Container, OutcomeState
from campaign_bridge.sync.plan import Item, RunReport
from campaign_bridge.sync.record import record, write_intents
from campaign_bridge.sync.store.store import Store
from campaign_bridge.sync.target import Target

#: Told each item's outcome as it is recorded (the reconciler marks its findings repaired or failed).
Settle = Callable[[Item, ChangeOutcome], None]
Progress = Callable[[str, int, int], None]


class DecisionLog:
    """Appends a run's decisions to the decision log as they are made, each once, in order.

    Flushed after each recorded batch and when the run finishes: a run killed in between leaves what it
    did so far for ``conflicts`` and ``explain``. A report with no run id (``plan``, the reconciler's
    scratch report) is not logged: its caller logs it, or nobody does."""

    def __init__(self, store: Store, report: RunReport, now: datetime) -> None:
        self.store, self.report, self.now = store, report, now
        self._logged = 0

    def flush(self) -> None:
        report = self.report
        if report.run_id is None or len(report.decisions) <= self._logged:
            return
        self.store.log([d.row(report.run_id, report.rule, self.now) for d in report.decisions[self._logged :]])
        self._logged = len(report.decisions)


class BatchWriter:
    """Writes one run's items to its target and records what happened. ``renew`` keeps the run's lease;
    ``should_stop`` is asked before each batch of ``write``."""

    def __init__(
        self,
        store: Store,
        rule: Rule,
        target: Target,
        report: RunReport,
        now: datetime,
        *,
        max_attempts: int,
        log: DecisionLog,
        renew: Callable[[], None] = lambda: None,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store, self.rule, self.target, self.report, self.now = store, rule, target, report, now
        self.clock = clock or (lambda: now)
        self.max_attempts, self.log, self.renew, self.should_stop = max_attempts, log, renew, should_stop
        self.progress = progress or (lambda stage, done, total: None)
        # the changes recorded so far this run, over every write (eager ones and those sent from the writer
        # thread included): the apply progress counts on from it, so the bar never goes back
        self.done = 0

    def write(self, items: Sequence[Item], *, settle: Settle | None = None) -> bool:
        """Send ``items`` in batches (``route``), record each outcome, then send the follow-ups.

        ``settle`` is told each item's outcome (follow-ups aside). A stop asked for between batches sets
        ``report.message``. Returns True when every item reached a final state, False when some failed or
        the run stopped. Raises what the connector raises for a whole batch, except ``TransientError``:
        that marks each of the batch's items failed, to be retried by a later run."""
        apply, step = self.route(len(items))
        total, clean = len(items), True
        upto = self.done + total  # the apply progress's total: what earlier writes recorded, and these
        self.log.flush()  # what the run decided before it writes
        follow_up: list[Item] = []
        for i in range(0, total, step):
            if self.should_stop():
                self.report.message = "stopped on request after the current batch; the next run continues"
                return False
            batch = list(items[i : i + step])
            outcomes = call(apply, self.target.container, self.intend(batch))
            if settle is not None:
                for item, outcome in zip([it for it in batch if it.target is not None], outcomes, strict=True):
                    settle(item, outcome)
            more, final = self.recorded(batch, outcomes)
            follow_up.extend(more)
            clean = clean and final
            self.done += len(batch)
            self.tick(upto)
        follow_up = [it for it in follow_up if it.target is not None]
        apply, step = self.route(len(follow_up))
        for j in range(0, len(follow_up), step):
            batch = follow_up[j : j + step]
            outcomes = call(apply, self.target.container, self.intend(batch))
            clean = self.recorded(batch, outcomes)[1] and clean
        return clean

    def route(self, count: int) -> tuple[Apply, int]:
        """How ``count`` changes go to the target: the apply function and the most changes per call."""
        return writer_for(self.target.connector, count)

    def intend(self, batch: list[Item]) -> list[Change]:
        """The changes of the batch's items that have a target, after writing their intents.

        Each add is written to the ledger as ``pending`` *before* the batch leaves, stamped with the time
        it leaves, and **not owned**: an intent is not ownership until the target confirms the add. A run
        killed before it records the answer leaves the row pending; the next run asks the target who
        added the member (``sync/intents.py``) and sends the add again if it never landed. Only an add the
        target answers ``applied`` makes the member this rule's own (a mirror rule removes it when it
        leaves the source); a member found already there never is.

        Each removal of a member the rule owns is written ``removing`` first: a run killed after the
        target removed the member leaves a row that no longer says "present", so a person who comes back
        to the source before the next run is added again rather than taken for a member still there.
        """
        sendable = [it for it in batch if it.target is not None]
        intents = [
            it for it in sendable if it.action is ChangeAction.ADD or (it.action is ChangeAction.REMOVE and it.owned)
        ]
        write_intents(self.store, self.rule, self.target, intents, self.clock())
        return [Change(it.action, it.target, it.status, it.replace) for it in sendable if it.target is not None]

    def recorded(self, batch: list[Item], outcomes: list[ChangeOutcome]) -> tuple[list[Item], bool]:
        """Record a sent batch's outcomes in the ledger and its decisions in the decision log; returns the
        follow-ups they call for, and whether every outcome reached a final state."""
        follow_up = record(
            self.store, self.max_attempts, self.rule, self.target, self.report, batch, outcomes, self.now
        )
        self.log.flush()
        return follow_up, all(o.state is not OutcomeState.FAILED for o in outcomes)

    def tick(self, total: int) -> None:
        """A batch is recorded: report progress (``done`` of ``total``) and keep the lease."""
        self.progress("apply", self.done, total)
        self.renew()


def call(apply: Apply, container: Container, changes: list[Change]) -> list[ChangeOutcome]:
    """``apply`` the changes; a ``TransientError`` marks each of them failed, to be retried by a later run."""
    try:
        return apply(container, changes)
    except TransientError as exc:
        return [ChangeOutcome(c, OutcomeState.FAILED, "TRANSIENT", str(exc)) for c in changes]
