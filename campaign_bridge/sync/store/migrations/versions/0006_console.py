"""The admin console: users, sessions, the audit log, decisions on held plans, earlier client files.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

``console_users`` keeps Argon2 hashes, never passwords; ``console_sessions`` the SHA-256 of each session
cookie, never the cookie. ``plan_approvals`` records an approve or discard of a held plan (the guard lets one
sync apply exactly the removals approved). ``client_file_versions`` keeps a client file's text as it was
before a save from the console. Written by hand to match ``tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_console_users"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_console_sessions"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("client", sa.String(100), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(300), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "plan_approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("removals", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_by_run", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_plan_approvals"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_plan_approvals_run_id_runs"),
    )
    op.create_index("ix_plan_approvals_run_id", "plan_approvals", ["run_id"])
    op.create_index("ix_plan_approvals_rule", "plan_approvals", ["rule"])
    op.create_table(
        "client_file_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_client_file_versions"),
    )
    op.create_index("ix_client_file_versions_path", "client_file_versions", ["path"])


def downgrade() -> None:
    op.drop_table("client_file_versions")
    op.drop_table("plan_approvals")
    op.drop_table("audit_log")
    op.drop_table("console_sessions")
    op.drop_table("console_users")
