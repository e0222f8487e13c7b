"""Streamed runs: the source snapshot's ``seen_in`` stamp, the source's membership version, and an index
of the ledger by person.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

A full read now writes the snapshot a chunk at a time, stamping each record it sees
(``source_members.seen_in``, a token of the run), then drops the records it did not see, instead of
holding the whole read in memory. ``watermarks.source_version`` keeps the membership version the source's container reported at
the last clean full read (a HubSpot list's size with its last-added and last-removed times), so an
unchanged source need not be read again. ``ix_ledger_person`` serves the cross-rule checks, which look up
other rules' rows for each chunk's persons: without it each lookup scanned the connection's whole ledger,
which made a million-member first sync quadratic. Written by hand to match ``tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("source_members") as batch:
        batch.add_column(sa.Column("seen_in", sa.String(32), nullable=True))
    with op.batch_alter_table("watermarks") as batch:
        batch.add_column(sa.Column("source_version", sa.String(200), nullable=True))
    op.create_index("ix_ledger_person", "ledger", ["person_key"])


def downgrade() -> None:
    op.drop_index("ix_ledger_person", table_name="ledger")
    with op.batch_alter_table("watermarks") as batch:
        batch.drop_column("source_version")
    with op.batch_alter_table("source_members") as batch:
        batch.drop_column("seen_in")
