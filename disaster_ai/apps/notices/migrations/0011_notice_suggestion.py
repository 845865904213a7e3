"""notices.suggestion: the 提案 a plugin made through desk.notices.suggest (its source)

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-08 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import disaster_ai.storage.base  # noqa: F401  portable column types

revision = "0011"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notices") as batch:
        batch.add_column(
            sa.Column("suggestion", disaster_ai.storage.base.JSONText(), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("suggestion")
