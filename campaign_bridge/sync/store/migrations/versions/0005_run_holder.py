"""The worker holding each run: ``runs.holder``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

A run whose process died without closing its row (killed, crashed) stayed ``running`` for ever. With the
holder (``host:pid:random``, as the rule's lease names it) kept on the row, the next run on the same host
can tell the process is gone and close the row as failed (``RunStore.fail_dead_runs``). Nullable: rows
written before this revision, and callers that do not say, have no holder and are left as they are.
Written by hand to match ``tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("holder", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("holder")
