"""notifications: the desk's live notifications (toasts), kept for pages opened later

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-07 16:00:00
"""

import sqlalchemy as sa
from alembic import op

import disaster_ai.storage.base

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("roles", disaster_ai.storage.base.JSONText(), nullable=False),
        sa.Column("users", disaster_ai.storage.base.JSONText(), nullable=False),
        sa.Column("exclude_user", sa.String(64), nullable=False),
        sa.Column("texts", disaster_ai.storage.base.JSONText(), nullable=False),
        sa.Column("link", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_created_at"), ["created_at"], unique=False
        )


def downgrade():
    op.drop_table("notifications")
