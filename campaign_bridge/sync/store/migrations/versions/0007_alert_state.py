"""Alert state: which alerts are firing and what each target was last told (``alert_state``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

A repeated alert is not sent again until it changes or is resolved, across restarts and across the
workers sharing a state store, so what was sent is kept here. Written by hand to match ``alert_state``
in ``campaign_bridge/sync/store/tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("delivered", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client", "rule", "kind", "subject", name="pk_alert_state"),
    )


def downgrade() -> None:
    op.drop_table("alert_state")
