"""dead letters: callbacks given up on, and when an admin retried one

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("retried_at")
        batch_op.drop_column("dead_at")
