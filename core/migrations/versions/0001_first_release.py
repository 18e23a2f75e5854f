"""The tables of the first release: jobs, uploads, batch chunks and results.

Stores made before the migration history began ran `create_all` themselves: this creates only
the tables such a store lacks, so it is safe on those and on an empty database alike.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _job_id() -> sa.Column:
    return sa.Column("job_id", sa.String(32),
                     sa.ForeignKey("categorizer_jobs.id", ondelete="CASCADE"), primary_key=True)


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "categorizer_jobs" not in present:
        op.create_table(
            "categorizer_jobs",
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("stage", sa.String(64)),
            sa.Column("params", sa.JSON, nullable=False),
            sa.Column("result", sa.JSON),
            sa.Column("error", sa.Text),
            sa.Column("model_version", sa.Integer),
            sa.Column("total_rows", sa.Integer),
            sa.Column("n_chunks", sa.Integer),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("task_id", sa.String(64)),
            sa.Column("idempotency_key", sa.String(200), unique=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True)),
            sa.Column("finished_at", sa.DateTime(timezone=True)),
        )
        op.create_index("ix_categorizer_jobs_state", "categorizer_jobs", ["state"])
        op.create_index("ix_categorizer_jobs_created_at", "categorizer_jobs", ["created_at"])
    if "categorizer_uploads" not in present:
        op.create_table(
            "categorizer_uploads", _job_id(),
            sa.Column("content", sa.LargeBinary, nullable=False),
        )
    if "categorizer_batch_chunks" not in present:
        op.create_table(
            "categorizer_batch_chunks", _job_id(),
            sa.Column("idx", sa.Integer, primary_key=True),
            sa.Column("first_row", sa.Integer, nullable=False),
            sa.Column("n_rows", sa.Integer, nullable=False),
            sa.Column("rows", sa.LargeBinary, nullable=False),
        )
    if "categorizer_batch_results" not in present:
        op.create_table(
            "categorizer_batch_results", _job_id(),
            sa.Column("idx", sa.Integer, primary_key=True),
            sa.Column("n_rows", sa.Integer, nullable=False),
            sa.Column("rows", sa.LargeBinary, nullable=False),
        )


def downgrade() -> None:
    for table in ("categorizer_batch_results", "categorizer_batch_chunks",
                  "categorizer_uploads", "categorizer_jobs"):
        op.drop_table(table)
