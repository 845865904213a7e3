"""security: server-side desk sessions, atomic login throttle, the audit log's hash chain

Revision ID: 0007
Revises: 0001
Create Date: 2026-12-07 04:00:00
"""

import sqlalchemy as sa
from alembic import op

import disaster_ai.storage.base  # noqa: F401  portable column types

revision = "0007"
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_web_sessions")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", disaster_ai.storage.base.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "audit_chain",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_chain")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_chain_event_id")),
    )
    _make_chain_append_only()
    _seal_existing_events()


def _make_chain_append_only():
    """Like audit_events: the database refuses UPDATE and DELETE, whoever connects."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_chain_no_change BEFORE UPDATE OR DELETE ON audit_chain "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_chain_no_{verb.lower()} BEFORE {verb} ON audit_chain "
                "BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END"
            )


def _seal_existing_events():
    """Chain the rows written before this revision, in id order."""
    from disaster_ai.audit_chain import GENESIS, link
    from disaster_ai.storage.base import AwareDateTime, JSONText

    bind = op.get_bind()
    # the columns as they are at this revision (never the live model, which may grow later)
    events = sa.table(
        "audit_events",
        sa.column("id", sa.Integer),
        sa.column("at", AwareDateTime),
        sa.column("action", sa.String),
        sa.column("app", sa.String),
        sa.column("actor_id", sa.Integer),
        sa.column("actor_name", sa.String),
        sa.column("target", sa.String),
        sa.column("detail", JSONText),
        sa.column("request_id", sa.String),
        sa.column("ai_engine", sa.String),
        sa.column("ai_model", sa.String),
        sa.column("input_digest", sa.String),
        sa.column("output", sa.Text),
        sa.column("duration_ms", sa.Integer),
    )
    chain = sa.table(
        "audit_chain",
        sa.column("seq", sa.Integer),
        sa.column("event_id", sa.Integer),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    prev, seq, last_id = GENESIS, 0, 0
    while True:  # in pages, so a long log never sits in memory at once
        rows = (
            bind.execute(
                sa.select(events).where(events.c.id > last_id).order_by(events.c.id).limit(1000)
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        batch = []
        for row in rows:
            seq += 1
            digest = link(prev, dict(row))
            batch.append({"seq": seq, "event_id": row["id"], "prev_hash": prev, "hash": digest})
            prev, last_id = digest, row["id"]
        bind.execute(chain.insert(), batch)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_chain_no_change ON audit_chain")
    op.drop_table("audit_chain")
    op.drop_table("login_throttle")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))
    op.drop_table("web_sessions")
