"""plugin platform: incidents.external_ref (unique, for desk.incidents.upsert) and
notices.suggestion (the 提案 a plugin made through desk.notices.suggest)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import disaster_ai.storage.base  # noqa: F401  portable column types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("external_ref", sa.String(length=255), nullable=True))
        batch.create_unique_constraint(batch.f("uq_incidents_external_ref"), ["external_ref"])
    with op.batch_alter_table("notices") as batch:
        batch.add_column(
            sa.Column("suggestion", disaster_ai.storage.base.JSONText(), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("suggestion")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_constraint("uq_incidents_external_ref", type_="unique")
        batch.drop_column("external_ref")
