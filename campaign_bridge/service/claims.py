"""Claim a scheduled fire time once, across every ``serve`` process sharing a state store.

The engine's lease (``Store.try_lease``) keeps two workers from running one rule *at the same time*; it
does not stop a second worker from running the same fire time again once the first has finished (the
second one was merely late: its scheduler woke up after the lease was released). So before a scheduled
run starts, its worker claims the run's fire time: ``Store.claim_fire_time`` records the newest fire
time claimed for the job and says whether this caller was first to claim it. It is the lease's own
conditional write, and ``sync/store/leases.py`` sets out why exactly one worker wins.

Fire times mean the same run in every process because ``jobs.py`` anchors the schedules.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from campaign_bridge.sync.store.leases import KEY_WIDTH
from campaign_bridge.sync.store.store import Store


def claim_key(client: str, rule: str, kind: str) -> str:
    """The ``leases`` row that records the newest claimed fire time of one scheduled job: rule names
    cannot contain ``:``, so it never collides with a rule's lease. A key too long for the column keeps
    its start and ends with a digest of the whole."""
    key = f"fire:{client}:{rule}:{kind}"
    if len(key) <= KEY_WIDTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: KEY_WIDTH - 33]}~{digest}"


def claim_fire_time(store: Store, key: str, fire_time: datetime) -> bool:
    """True when this caller is the first to claim ``fire_time`` (or anything later) for ``key``."""
    return store.claim_fire_time(key, fire_time)
