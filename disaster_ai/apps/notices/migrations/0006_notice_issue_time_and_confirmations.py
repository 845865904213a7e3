"""notices: whether the operator set the time of issue, and the approver's confirmations

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-07 03:50:00
"""

import sqlalchemy as sa
from alembic import op

import disaster_ai.storage.base  # noqa: F401  portable column types

revision = "0006"
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notices") as batch:
        batch.add_column(
            sa.Column("time_explicit", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column(
                "confirmations",
                disaster_ai.storage.base.JSONText(),
                nullable=False,
                server_default="[]",
            )
        )


def downgrade():
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("confirmations")
        batch.drop_column("time_explicit")
