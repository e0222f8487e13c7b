"""Leases and fire-time claims: which worker runs a rule now, and which one ran a scheduled fire time.

Both live in the ``leases`` table, one row per key, and both are taken by the same single statement
(``_take``): *insert the row, or, if it is there, overwrite it only where a condition on the row as
it stands holds*:

* a rule's lease (key: the rule's name) is taken where its holder is the caller (a renewal) or it has
  expired;
* a scheduled job's fire-time claim (key ``fire:<client>:<rule>:<kind>``, see ``service/claims.py``;
  rule names cannot contain ``:``, so it never collides with a lease) keeps the newest fire time
  claimed so far in ``holder``, as 20 digits (``YYYYMMDDhhmmssffffff`` in UTC) so that string order is
  time order under any collation; a claim is taken where the stored fire time is older.

Why exactly one of several racing callers wins: the statement is ``INSERT … ON CONFLICT (rule) DO UPDATE
… WHERE <condition>``, one atomic write, whose row count says whether it wrote. With no row yet, one
insert wins; PostgreSQL makes a concurrent insert of the same key wait for the first to commit, then
takes the conflict path and checks the condition against the committed row, locked, so it sees the
winner's holder or fire time and does not match (it re-checks, as an ``UPDATE`` does, rather than act on
what it read before). SQLite writes one at a time. No step reads then writes, so there is no window for
an insert to lose a race on the primary key and nothing to catch.

Claims are monotonic, so a late worker can neither repeat a fire time nor run an older one after a newer
one has run; the table keeps one row per job, not one per run. A worker that dies after claiming loses
that fire time (at most once); the next fire time runs as usual.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from campaign_bridge.sync.store import tables as t
from campaign_bridge.sync.store.base import StoreBase

#: The width of ``leases.rule``: a claim key must fit it.
KEY_WIDTH = 200


def fire_stamp(fire_time: datetime) -> str:
    """``fire_time`` as 20 digits in UTC: fixed width, so string order is time order."""
    return fire_time.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")


class LeaseStore(StoreBase):
    def try_lease(self, rule: str, holder: str, expires_at: datetime, now: datetime) -> bool:
        """Take or renew the rule's lease; False when another holder's lease has not expired."""
        c = t.leases.c
        return self._take(rule, holder, expires_at, or_(c.holder == holder, c.expires_at < now))

    def claim_fire_time(self, key: str, fire_time: datetime) -> bool:
        """True when this caller is the first to claim ``fire_time`` (or anything later) for ``key``."""
        stamp = fire_stamp(fire_time)
        return self._take(key, stamp, fire_time, t.leases.c.holder < stamp)

    def _take(self, key: str, holder: str, expires_at: datetime, where: ColumnElement[bool]) -> bool:
        """Write ``holder`` and ``expires_at`` to the ``key`` row: insert it, or update it where ``where``
        holds of the row as it stands; True when this call wrote (the module docstring says why exactly
        one of several racing callers does)."""
        values = {"rule": key, "holder": holder, "expires_at": expires_at}
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                # SQLAlchemy does not keep an INSERT's row count on psycopg: the row comes back instead
                pg = postgresql.insert(t.leases).values(values)
                taken = pg.on_conflict_do_update(
                    index_elements=[t.leases.c.rule],
                    set_={"holder": pg.excluded.holder, "expires_at": pg.excluded.expires_at},
                    where=where,
                ).returning(t.leases.c.rule)
                return conn.execute(taken).first() is not None
            # sqlite3 counts the rows a statement changed (RETURNING needs SQLite 3.35)
            lite = sqlite.insert(t.leases).values(values)
            lite = lite.on_conflict_do_update(
                index_elements=[t.leases.c.rule],
                set_={"holder": lite.excluded.holder, "expires_at": lite.excluded.expires_at},
                where=where,
            )
            return conn.execute(lite).rowcount == 1

    def lease_holder(self, rule: str) -> str | None:
        """Who holds the rule's lease (expired or not), or None."""
        with self.engine.connect() as conn:
            return conn.execute(select(t.leases.c.holder).where(t.leases.c.rule == rule)).scalar()

    def take_over_lease(self, rule: str, dead_holder: str, holder: str, expires_at: datetime) -> bool:
        """Take the lease from ``dead_holder`` (a worker known to be gone); False if it changed hands."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(t.leases)
                    .where(t.leases.c.rule == rule, t.leases.c.holder == dead_holder)
                    .values(holder=holder, expires_at=expires_at)
                ).rowcount
            )

    def release_lease(self, rule: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.leases).where(t.leases.c.rule == rule, t.leases.c.holder == holder))
