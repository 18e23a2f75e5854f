"""Jobs record their last sign of life (`updated_at`) and how often the sweeper re-sent them.

Stores upgraded before the migration history began may have these columns already: only
missing ones are added.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("categorizer_jobs")}
    if "updated_at" not in present:
        op.add_column("categorizer_jobs", sa.Column("updated_at", sa.DateTime(timezone=True)))
    if "resends" not in present:
        op.add_column("categorizer_jobs", sa.Column("resends", sa.Integer, nullable=False,
                                                    server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("categorizer_jobs") as batch:
        batch.drop_column("resends")
        batch.drop_column("updated_at")
