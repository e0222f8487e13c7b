"""The source container a rule's last full read found (``watermarks.source_container``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Between full reads, an incremental read reuses the container the last full read found instead of asking
the source system for it again: one API call less on every idle run of a source with a change feed.
Written by hand to match ``tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("watermarks") as batch:
        batch.add_column(sa.Column("source_container", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("watermarks") as batch:
        batch.drop_column("source_container")
