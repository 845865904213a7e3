"""jma: telegrams, fetches, feed state, gaps, suggestions

Revision ID: jma_0001
Revises: (the first revision of the history jma)
"""

import sqlalchemy as sa
from alembic import op

from disaster_ai.desk import AwareDateTime, JSONText

revision = "jma_0001"
down_revision = None
branch_labels = ("jma",)
depends_on = None


def upgrade():
    op.create_table(
        "jma_telegrams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("data_type", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("head_title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("info_type", sa.String(length=16), nullable=False),
        sa.Column("reported_at", AwareDateTime(), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=16), nullable=False),
        sa.Column("office", sa.String(length=100), nullable=False),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("received_at", AwareDateTime(), nullable=False),
        sa.Column("items", JSONText(), nullable=False),
        sa.Column("cancelled_by", sa.Integer(), nullable=True),
        sa.Column("raw_xml", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jma_telegrams")),
        sa.UniqueConstraint("sha256", name=op.f("uq_jma_telegrams_sha256")),
    )
    op.create_index(op.f("ix_jma_telegrams_url"), "jma_telegrams", ["url"])
    op.create_index(op.f("ix_jma_telegrams_data_type"), "jma_telegrams", ["data_type"])
    op.create_table(
        "jma_fetches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("fetched_at", AwareDateTime(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jma_fetches")),
        sa.UniqueConstraint("url", name=op.f("uq_jma_fetches_url")),
    )
    op.create_table(
        "jma_feed_state",
        sa.Column("feed", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("last_modified", sa.String(length=64), nullable=False),
        sa.Column("last_status", sa.String(length=100), nullable=False),
        sa.Column("first_polled_at", AwareDateTime(), nullable=True),
        sa.Column("last_polled_at", AwareDateTime(), nullable=True),
        sa.Column("last_ok_at", AwareDateTime(), nullable=True),
        sa.Column("feed_updated", AwareDateTime(), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("stale_since", AwareDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_jma_feed_state")),
    )
    op.create_table(
        "jma_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("entry_updated", AwareDateTime(), nullable=True),
        sa.Column("detected_at", AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jma_gaps")),
        sa.UniqueConstraint("url", name=op.f("uq_jma_gaps_url")),
    )
    op.create_table(
        "jma_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("telegram_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("phenomenon", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.Column("outdated_at", AwareDateTime(), nullable=True),
        sa.Column("outdated_reason", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jma_suggestions")),
        sa.UniqueConstraint("ref", name=op.f("uq_jma_suggestions_ref")),
    )
    op.create_index(op.f("ix_jma_suggestions_rule_id"), "jma_suggestions", ["rule_id"])


def downgrade():
    for table in ("jma_suggestions", "jma_gaps", "jma_feed_state", "jma_fetches"):
        op.drop_table(table)
    op.drop_table("jma_telegrams")
