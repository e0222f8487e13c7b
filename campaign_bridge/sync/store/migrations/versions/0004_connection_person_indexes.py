"""Indexes by (connection, person): the crosswalk's and the ledger's.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

A run looks up each chunk's persons in one connection: their crosswalk records
(``person_refs.connection = ? AND person_key IN (…)``) and other rules' ledger rows
(``ledger.connection = ? AND person_key IN (…)``). With an index on ``person_key`` alone, SQLite's planner
took the ``connection`` prefix of another index (the crosswalk's primary key, ``ix_ledger_target``) and
scanned every row of the connection for each chunk, which made a large first sync quadratic. An index on
both columns serves both lookups; it replaces the single-column ones. Written by hand to match ``tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_person_refs_connection_person", "person_refs", ["connection", "person_key"])
    op.drop_index("ix_person_refs_person_key", table_name="person_refs")
    op.create_index("ix_ledger_connection_person", "ledger", ["connection", "person_key"])
    op.drop_index("ix_ledger_person", table_name="ledger")


def downgrade() -> None:
    op.create_index("ix_ledger_person", "ledger", ["person_key"])
    op.drop_index("ix_ledger_connection_person", table_name="ledger")
    op.create_index("ix_person_refs_person_key", "person_refs", ["person_key"])
    op.drop_index("ix_person_refs_connection_person", table_name="person_refs")
