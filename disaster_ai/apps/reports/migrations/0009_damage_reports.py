"""damage reports: the tally of an event, proposals from incidents, reports (第N報) and their
deliveries, the evacuee history of shelters

Revision ID: 0009
Revises: (the first revision of this app)
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import disaster_ai.storage.base  # noqa: F401  portable column types

revision = "0009"
down_revision = None
branch_labels = ('reports',)
depends_on = None


def upgrade():
    op.create_table(
        "report_tally_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_note", sa.String(length=255), nullable=False),
        sa.Column("incident_ids", disaster_ai.storage.base.JSONText(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("entered_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["disaster_events.id"],
            name=op.f("fk_report_tally_entries_event_id_disaster_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_tally_entries")),
        sa.UniqueConstraint(
            "event_id", "item", "version", name="uq_report_tally_entries_version"
        ),
    )
    with op.batch_alter_table("report_tally_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_tally_entries_event_id"), ["event_id"], unique=False
        )

    op.create_table(
        "report_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", disaster_ai.storage.base.AwareDateTime(), nullable=True),
        sa.Column("decided_item", sa.String(length=128), nullable=True),
        sa.Column("decided_amount", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["disaster_events.id"],
            name=op.f("fk_report_proposals_event_id_disaster_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_proposals")),
        sa.UniqueConstraint("event_id", "incident_id", name="uq_report_proposals_incident"),
    )
    with op.batch_alter_table("report_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_proposals_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_report_proposals_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_report_proposals_state"), ["state"], unique=False)

    op.create_table(
        "damage_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("issued_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("reporter", sa.String(length=128), nullable=False),
        sa.Column("snapshot", disaster_ai.storage.base.JSONText(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["disaster_events.id"],
            name=op.f("fk_damage_reports_event_id_disaster_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_damage_reports")),
        sa.UniqueConstraint("event_id", "number", name="uq_damage_reports_number"),
    )
    with op.batch_alter_table("damage_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_damage_reports_event_id"), ["event_id"], unique=False)

    op.create_table(
        "damage_report_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.Column("updated_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.Column("delivered_at", disaster_ai.storage.base.AwareDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["damage_reports.id"],
            name=op.f("fk_damage_report_deliveries_report_id_damage_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_damage_report_deliveries")),
    )
    with op.batch_alter_table("damage_report_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_damage_report_deliveries_report_id"), ["report_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_damage_report_deliveries_state"), ["state"], unique=False
        )

    op.create_table(
        "shelter_evacuee_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shelter_key", sa.String(length=64), nullable=False),
        sa.Column("shelter_name", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("vulnerable", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["disaster_events.id"],
            name=op.f("fk_shelter_evacuee_records_event_id_disaster_events"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shelter_evacuee_records")),
    )
    with op.batch_alter_table("shelter_evacuee_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shelter_evacuee_records_shelter_key"), ["shelter_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_shelter_evacuee_records_event_id"), ["event_id"], unique=False
        )


def downgrade():
    for table, indexes in (
        ("shelter_evacuee_records", ("event_id", "shelter_key")),
        ("damage_report_deliveries", ("state", "report_id")),
        ("damage_reports", ("event_id",)),
        ("report_proposals", ("state", "incident_id", "event_id")),
        ("report_tally_entries", ("event_id",)),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in indexes:
                batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
