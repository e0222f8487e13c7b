"""The state names the store keeps in its string columns: a ledger row's state, a crosswalk row's state and
a run's status.

They are ``StrEnum``: a member *is* its string (``LedgerState.PRESENT == "present"``), so the database
holds the same values it always has (no data migration; a database written before these existed reads
back unchanged) and code still comparing with a literal keeps working while it moves over.
"""

from __future__ import annotations

from enum import StrEnum


class LedgerState(StrEnum):
    """Where one person of one rule stands in its target (``ledger.state``).

    ``PENDING`` is an add written before its batch is sent (the run may have died before the answer);
    ``REMOVING`` a removal written so before its batch is sent (the member may be gone already);
    ``FAILED`` is retried by the next run, ``DEAD`` once ``max_attempts`` is spent; ``REJECTED`` (refused
    by the target, or no target record) and ``BLOCKED`` (an exclusive slot held elsewhere, or a manual
    removal respected) wait for ``campaign-bridge retry`` or a change of rule.
    """

    PENDING = "pending"
    PRESENT = "present"
    REMOVING = "removing"  # a removal sent, its outcome not recorded yet (the run may have died)
    FAILED = "failed"
    DEAD = "dead"
    REJECTED = "rejected"
    BLOCKED = "blocked"


#: States a run sends again (``failed``) or confirms (``pending``: a run died mid-batch).
RETRYABLE = (LedgerState.FAILED, LedgerState.PENDING)
#: States whose last write a run must finish or redo: the above, and a removal a run died sending.
UNSETTLED = (*RETRYABLE, LedgerState.REMOVING)
#: States ``campaign-bridge retry`` gives a fresh set of attempts.
REQUEUED = (LedgerState.DEAD, LedgerState.REJECTED, LedgerState.FAILED)


class RefState(StrEnum):
    """What became of a record of the identity crosswalk (``person_refs.state``); membership of a
    converted or merged record follows its ``survivor_id``."""

    ACTIVE = "active"
    CONVERTED = "converted"
    MERGED = "merged"
    DELETED = "deleted"


class RunStatus(StrEnum):
    """How a run ended (``runs.status``, and the reports of ``sync``, ``plan`` and ``reconcile``)."""

    RUNNING = "running"  # started, not finished (or killed before it could say)
    OK = "ok"
    PARTIAL = "partial"  # some writes did not reach a final state, or stopped on request
    FAILED = "failed"
    STOPPED = "stopped"  # an API quota ran out (the CLI: not run, a stop was asked for first)
    HELD = "held"  # sync: the plan removes more than the safety limits allow
    PLANNED = "planned"  # plan (dry run); never stored
    SKIPPED = "skipped"  # not run: another worker holds the rule's lease; never stored
    DRIFT = "drift"  # reconcile without --repair found drift
    REPAIRED = "repaired"  # reconcile --repair fixed every drift it found
