"""Leases: who runs a batch chunk or a job's own task now, and until when (core/leases.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("categorizer_leases"):
        return  # made by a release that created its tables without migrations
    op.create_table(
        "categorizer_leases",
        sa.Column("job_id", sa.String(32),
                  sa.ForeignKey("categorizer_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("worker", sa.String(200)),
        sa.Column("pid", sa.Integer),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("resends", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_categorizer_leases_expires_at", "categorizer_leases", ["expires_at"])


def downgrade() -> None:
    op.drop_table("categorizer_leases")
