"""Reconcile findings: what each reconcile found and what ``--repair`` did about it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Written by hand to match ``reconcile_findings`` in ``campaign_bridge/sync/store/tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconcile_findings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("person_key", sa.String(32), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("record", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("action", sa.String(40), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reconcile_findings"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_reconcile_findings_run_id_runs"),
    )
    op.create_index("ix_reconcile_findings_run_id", "reconcile_findings", ["run_id"])
    op.create_index("ix_reconcile_findings_rule", "reconcile_findings", ["rule"])


def downgrade() -> None:
    op.drop_table("reconcile_findings")
