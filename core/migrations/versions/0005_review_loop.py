"""The review loop: review items, the decisions taken on them, labels, and the categories a
reviewer may name (core/review.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "categorizer_categories" not in present:
        op.create_table(
            "categorizer_categories",
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("source", sa.String(16), nullable=False),
            sa.Column("model_version", sa.Integer),
            sa.Column("added_by", sa.String(16)),
            sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        )
    if "categorizer_review_items" not in present:
        op.create_table(
            "categorizer_review_items",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("job_id", sa.String(32),
                      sa.ForeignKey("categorizer_jobs.id", ondelete="CASCADE"), nullable=False),
            sa.Column("row", sa.Integer, nullable=False),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("category", sa.Text, nullable=False),
            sa.Column("confidence", sa.Float, nullable=False),
            sa.Column("top_k", sa.JSON, nullable=False),
            sa.Column("model_version", sa.Integer),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("decided_category", sa.Text),
            sa.Column("decided_at", sa.DateTime(timezone=True)),
            sa.Column("decided_by", sa.String(16)),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.UniqueConstraint("job_id", "row", name="uq_review_items_job_row"),
        )
        items = "categorizer_review_items"
        op.create_index("ix_review_items_confidence", items, ["confidence", "id"])
        op.create_index("ix_review_items_state_confidence", items, ["state", "confidence", "id"])
        op.create_index("ix_review_items_job_confidence", items,
                        ["job_id", "state", "confidence"])
        op.create_index("ix_review_items_category_confidence", items,
                        ["category", "state", "confidence"])
    if "categorizer_review_decisions" not in present:
        op.create_table(
            "categorizer_review_decisions",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("item_id", sa.Integer,
                      sa.ForeignKey("categorizer_review_items.id", ondelete="CASCADE"),
                      nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("category", sa.Text),
            sa.Column("decided_by", sa.String(16), nullable=False),
            sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("model_version", sa.Integer),
        )
        op.create_index("ix_categorizer_review_decisions_item_id",
                        "categorizer_review_decisions", ["item_id"])
    if "categorizer_labels" not in present:
        op.create_table(
            "categorizer_labels",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("name_key", sa.Text, nullable=False),
            sa.Column("category", sa.Text, nullable=False),
            sa.Column("source", sa.String(16), nullable=False),
            sa.Column("job_id", sa.String(32)),
            sa.Column("model_version", sa.Integer),
            sa.Column("decided_by", sa.String(16)),
            sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("item_id", sa.Integer,
                      sa.ForeignKey("categorizer_review_items.id", ondelete="SET NULL"),
                      unique=True),
        )
        labels = "categorizer_labels"
        op.create_index("ix_categorizer_labels_name_key", labels, ["name_key"])
        op.create_index("ix_categorizer_labels_job_id", labels, ["job_id"])
        op.create_index("ix_categorizer_labels_decided_at", labels, ["decided_at"])
        op.create_index("ix_labels_source_id", labels, ["source", "id"])


def downgrade() -> None:
    for table in ("categorizer_labels", "categorizer_review_decisions",
                  "categorizer_review_items", "categorizer_categories"):
        op.drop_table(table)
