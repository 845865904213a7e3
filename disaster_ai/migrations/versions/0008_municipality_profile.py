"""municipality profile: reading, prefecture and the JMA forecast-area code

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("municipality") as batch:
        batch.add_column(sa.Column("name_kana", sa.String(128), nullable=False, server_default=""))
        batch.add_column(sa.Column("prefecture", sa.String(16), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("jma_area_code", sa.String(64), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("municipality") as batch:
        batch.drop_column("jma_area_code")
        batch.drop_column("prefecture")
        batch.drop_column("name_kana")
