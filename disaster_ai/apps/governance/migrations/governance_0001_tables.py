"""AI governance: hosts allowed per data class, weight digests, AI incident reports

Revision ID: governance_0001
Revises: (the first revision of this app)
Create Date: 2026-12-07 08:00:00
"""

import sqlalchemy as sa
from alembic import op

import disaster_ai.storage.base  # noqa: F401  portable column types

revision = "governance_0001"
down_revision = None
branch_labels = ("governance",)
depends_on = None


def upgrade():
    op.create_table(
        "governance_host_classes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("data_class", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("allowed_by", sa.String(length=64), nullable=False),
        sa.Column("allowed_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_host_classes")),
        sa.UniqueConstraint("host", "data_class", name="uq_governance_host_classes_host_class"),
    )
    op.create_index(
        op.f("ix_governance_host_classes_host"), "governance_host_classes", ["host"]
    )
    op.create_table(
        "governance_weight_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("files", disaster_ai.storage.base.JSONText(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_weight_digests")),
        sa.UniqueConstraint("key", name=op.f("uq_governance_weight_digests_key")),
    )
    op.create_table(
        "governance_ai_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("what_happened", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=False),
        sa.Column("action_taken", sa.Text(), nullable=False),
        sa.Column("audit_ids", disaster_ai.storage.base.JSONText(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("reported_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", disaster_ai.storage.base.AwareDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_ai_incidents")),
    )


def downgrade():
    op.drop_table("governance_ai_incidents")
    op.drop_table("governance_weight_digests")
    op.drop_index(op.f("ix_governance_host_classes_host"), table_name="governance_host_classes")
    op.drop_table("governance_host_classes")
