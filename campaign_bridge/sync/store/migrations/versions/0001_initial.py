"""Initial state store: identity crosswalk, source snapshot, ledger, watermarks, leases, runs, plans, decisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written by hand to match ``campaign_bridge/sync/store/tables.py`` as it stood at this revision; constraint and
index names follow that module's naming convention (``pk_<table>``, ``fk_<table>_<column>_<referred>``,
``ix_<table>_<columns>``). Defaults there are Python-side, so no column here has a server default.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_persons"),
    )
    op.create_index("ix_persons_email", "persons", ["email"])

    op.create_table(
        "person_refs",
        sa.Column("connection", sa.String(100), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("person_key", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("survivor_id", sa.String(64), nullable=True),
        sa.Column("seen_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("connection", "record_id", name="pk_person_refs"),
        sa.ForeignKeyConstraint(["person_key"], ["persons.key"], name="fk_person_refs_person_key_persons"),
    )
    op.create_index("ix_person_refs_person_key", "person_refs", ["person_key"])

    op.create_table(
        "source_members",
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("person_key", sa.String(32), nullable=False),
        sa.Column("status", sa.String(100), nullable=True),
        sa.Column("modified_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("rule", "record_id", name="pk_source_members"),
    )
    op.create_index("ix_source_members_rule_person", "source_members", ["rule", "person_key"])

    op.create_table(
        "ledger",
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("person_key", sa.String(32), nullable=False),
        sa.Column("connection", sa.String(100), nullable=False),
        sa.Column("container_id", sa.String(64), nullable=False),
        sa.Column("target_record_id", sa.String(64), nullable=True),
        sa.Column("target_kind", sa.String(40), nullable=True),
        sa.Column("status", sa.String(100), nullable=True),
        sa.Column("owned", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("written_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("rule", "person_key", name="pk_ledger"),
    )
    op.create_index("ix_ledger_target", "ledger", ["connection", "container_id", "person_key"])

    op.create_table(
        "watermarks",
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("tie_id", sa.String(64), nullable=False),
        sa.Column("full_read_at", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("rule", name="pk_watermarks"),
    )

    op.create_table(
        "leases",
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("rule", name="pk_leases"),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("read_full", sa.Boolean(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("api_calls", sa.JSON(), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_rule", "runs", ["rule"])

    op.create_table(
        "plans",
        # Keyed by its run, not generated: no sequence on PostgreSQL.
        sa.Column("run_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_plans"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_plans_run_id_runs"),
    )

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("person_key", sa.String(32), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("container", sa.String(300), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("is_conflict", sa.Boolean(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
    )
    for column in ("run_id", "rule", "kind", "person_key", "email"):
        op.create_index(f"ix_decisions_{column}", "decisions", [column])


def downgrade() -> None:
    # Children before parents, so foreign keys never dangle.
    for table in (
        "decisions",
        "plans",
        "runs",
        "leases",
        "watermarks",
        "ledger",
        "source_members",
        "person_refs",
        "persons",
    ):
        op.drop_table(table)
