"""Monitoring tables: live drift profiles and the shadow challenger's record.

Stores made while these tables were created without migrations already have them: only missing
ones are created.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "categorizer_drift_profiles" not in present:
        op.create_table(
            "categorizer_drift_profiles",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("model_version", sa.Integer, nullable=False),
            sa.Column("source", sa.String(16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("rows", sa.Integer, nullable=False),
            sa.Column("profile", sa.JSON, nullable=False),
        )
        op.create_index("ix_categorizer_drift_profiles_model_version",
                        "categorizer_drift_profiles", ["model_version"])
        op.create_index("ix_categorizer_drift_profiles_created_at",
                        "categorizer_drift_profiles", ["created_at"])
    if "categorizer_shadow_tallies" not in present:
        op.create_table(
            "categorizer_shadow_tallies",
            sa.Column("challenger_version", sa.Integer, primary_key=True),
            sa.Column("champion_version", sa.Integer, primary_key=True),
            sa.Column("compared", sa.Integer, nullable=False),
            sa.Column("agreed", sa.Integer, nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        )
    if "categorizer_shadow_disagreements" not in present:
        op.create_table(
            "categorizer_shadow_disagreements",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("challenger_version", sa.Integer, nullable=False),
            sa.Column("champion_version", sa.Integer, nullable=False),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("champion_category", sa.Text, nullable=False),
            sa.Column("challenger_category", sa.Text, nullable=False),
            sa.Column("champion_confidence", sa.Float),
            sa.Column("challenger_confidence", sa.Float),
            sa.Column("source", sa.String(16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        )
        op.create_index("ix_categorizer_shadow_disagreements_challenger_version",
                        "categorizer_shadow_disagreements", ["challenger_version"])


def downgrade() -> None:
    for table in ("categorizer_shadow_disagreements", "categorizer_shadow_tallies",
                  "categorizer_drift_profiles"):
        op.drop_table(table)
