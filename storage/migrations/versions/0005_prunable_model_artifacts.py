"""prunable model artifacts: model_versions.artifact may be NULL once pruned

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.alter_column("artifact", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # A pruned version cannot be restored: keep its row, with an empty artifact.
    op.execute("UPDATE model_versions SET artifact = '' WHERE artifact IS NULL")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.alter_column("artifact", existing_type=sa.LargeBinary(), nullable=False)
