"""incidents.external_ref (unique): one incident per outside reference, for
desk.incidents.upsert

Revision ID: 0010
Revises: 0002
Create Date: 2026-12-08 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("external_ref", sa.String(length=255), nullable=True))
        batch.create_unique_constraint(batch.f("uq_incidents_external_ref"), ["external_ref"])


def downgrade():
    with op.batch_alter_table("incidents") as batch:
        batch.drop_constraint("uq_incidents_external_ref", type_="unique")
        batch.drop_column("external_ref")
