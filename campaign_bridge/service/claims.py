"""Claim a scheduled fire time once, across every ``serve`` process sharing a state store.

The engine's lease (``Store.try_lease``) keeps two workers from running one rule *at the same time*; it
does not stop a second worker from running the same fire time again once the first has finished (the
second one was merely late: its scheduler woke up after the lease was released). So before a scheduled
run starts, its worker claims the run's fire time with one conditional write:

* the ``leases`` table holds one extra row per scheduled job, keyed ``fire:<client>:<rule>:<kind>`` (rule
  names cannot contain ``:``, so it never collides with an engine lease), whose ``holder`` is the newest
  fire time claimed so far, as 20 digits (``YYYYMMDDhhmmssffffff`` in UTC) so that string order is time
  order under any collation;
* a claim is ``UPDATE … SET holder = :fire WHERE rule = :key AND holder < :fire``: exactly one worker's
  update matches, whatever the interleaving (PostgreSQL re-checks the condition on the updated row;
  SQLite writes one at a time). The first claim of a job inserts the row; the primary key decides a race.

Claims are monotonic, so a late worker can neither repeat a fire time nor run an older one after a newer
one has run; the table keeps one row per job, not one per run. A worker that dies after claiming loses
that fire time (at most once); the next fire time runs as usual.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.store import Store

#: The ``leases.rule`` column's width.
KEY_WIDTH = 200


def claim_key(client: str, rule: str, kind: str) -> str:
    """The ``leases`` row that records the newest claimed fire time of one scheduled job."""
    key = f"fire:{client}:{rule}:{kind}"
    if len(key) <= KEY_WIDTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: KEY_WIDTH - 33]}~{digest}"


def fire_stamp(fire_time: datetime) -> str:
    """``fire_time`` as 20 digits in UTC: fixed width, so string order is time order."""
    return fire_time.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")


def claim_fire_time(store: Store, key: str, fire_time: datetime) -> bool:
    """True when this caller is the first to claim ``fire_time`` (or anything later) for ``key``."""
    stamp = fire_stamp(fire_time)
    c = t.leases.c
    for _ in range(2):
        with store.engine.begin() as conn:
            taken = conn.execute(
                update(t.leases).where(c.rule == key, c.holder < stamp).values(holder=stamp, expires_at=fire_time)
            ).rowcount
            if taken:
                return True
            if conn.execute(select(c.rule).where(c.rule == key)).first() is not None:
                return False
        try:
            with store.engine.begin() as conn:
                conn.execute(insert(t.leases).values(rule=key, holder=stamp, expires_at=fire_time))
            return True
        except IntegrityError:
            # Another worker inserted the first claim meanwhile: compare with it on the next pass.
            continue
    return False


def last_claimed(store: Store, key: str) -> str | None:
    """The newest fire time claimed for ``key`` (as ``fire_stamp`` wrote it), or None."""
    with store.engine.connect() as conn:
        row = conn.execute(select(t.leases.c.holder).where(t.leases.c.rule == key)).first()
    return None if row is None else str(row[0])
