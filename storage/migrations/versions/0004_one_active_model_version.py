"""one active model version: a partial unique index on model_versions.status = 'active'

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:35:14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ONLY_ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    # Where a rollback already raced a promotion there are two active versions and the index
    # cannot be built: keep the one activated last, retire the others.
    op.execute(
        """
        UPDATE model_versions SET status = 'retired'
        WHERE status = 'active' AND id <> (
            SELECT id FROM model_versions WHERE status = 'active'
            ORDER BY CASE WHEN activated_at IS NULL THEN 1 ELSE 0 END, activated_at DESC, id DESC
            LIMIT 1
        )
        """
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_model_versions_one_active",
            ["status"],
            unique=True,
            sqlite_where=ONLY_ACTIVE,
            postgresql_where=ONLY_ACTIVE,
        )


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_model_versions_one_active",
            sqlite_where=ONLY_ACTIVE,
            postgresql_where=ONLY_ACTIVE,
        )
