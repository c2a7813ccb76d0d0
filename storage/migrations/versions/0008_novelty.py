"""novelty: tickets' novelty, "none of these" answers, and new topics

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:00:00

Tickets keep the novelty the model gave them and whether it sent them to people; answers
can say that no label fits (with a proposed name); clusters of novel tickets become topics
that admins turn into labels.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_label", sa.String(length=100), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("centroid", sa.JSON(), nullable=False),
        sa.Column("radius", sa.Float(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
    )
    op.create_index(op.f("ix_topics_status"), "topics", ["status"], unique=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("novelty", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("novel", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("topic_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_tickets_topic_id"), ["topic_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_tickets_topic_id_topics"), "topics", ["topic_id"], ["id"]
        )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("no_label", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("proposed_label", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_column("proposed_label")
        batch_op.drop_column("no_label")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tickets_topic_id_topics"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_tickets_topic_id"))
        batch_op.drop_column("topic_id")
        batch_op.drop_column("novel")
        batch_op.drop_column("novelty")
    op.drop_index(op.f("ix_topics_status"), table_name="topics")
    op.drop_table("topics")
