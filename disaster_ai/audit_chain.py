"""The audit log's hash chain: sealing new rows at commit, and verifying the whole chain.

Every audit event gets one ``audit_chain`` row in the same transaction, just before it commits:
``hash = sha256(prev_hash + canonical(event))``, where ``canonical`` is a fixed JSON rendering
of every column of the event. Chain rows are numbered ``seq`` 1, 2, 3 … in commit order.

Two writers never chain onto the same row: on PostgreSQL the sealing step holds a transaction
advisory lock (taken at commit time only, so it is held for milliseconds and cannot deadlock
with row locks taken earlier in the transaction); SQLite already serialises writers. ``seq``
is the primary key, so a lost race could only ever fail, never fork the chain.

``verify`` walks the chain in ``seq`` order and names the first event whose content, link or
position does not match, and any event that has no chain row (inserted around the app).

What it proves and what it does not: see docs/security.md. The canonical form below must never
change, or every chain written before the change stops verifying: a column added to
``audit_events`` later is not covered by the hash (put new facts in ``detail``, which is).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

GENESIS = "0" * 64
ADVISORY_LOCK_KEY = 0x6461695F61756469  # "dai_audi"
CANONICAL_FIELDS = (
    "id",
    "at",
    "action",
    "app",
    "actor_id",
    "actor_name",
    "target",
    "detail",
    "request_id",
    "ai_engine",
    "ai_model",
    "input_digest",
    "output",
    "duration_ms",
)


def canonical(row) -> bytes:
    """One audit event (an ORM row or a mapping of its columns) as canonical JSON bytes."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    values = {}
    for name in CANONICAL_FIELDS:
        value = get(name)
        if name == "at" and value is not None:
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif name == "detail":
            value = json.loads(json.dumps(value or {}, ensure_ascii=False, default=str))
        values[name] = value
    return json.dumps(
        values, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=True
    ).encode("utf-8")


def link(prev_hash: str, row) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(row)).hexdigest()


REASONS = {
    "missing_link": _l("a chain row before it was removed"),
    "broken_link": _l("its link to the previous row is wrong"),
    "event_deleted": _l("the event was deleted"),
    "content_changed": _l("its content was changed"),
    "not_in_chain": _l("it was added around the application and is not in the chain"),
}


# --- sealing -------------------------------------------------------------------------------


PENDING_KEY = "dai_audit_unsealed"


def track_new_events(session: Session, _flush_context, _instances) -> None:
    """before_flush: remember the audit events this transaction adds."""
    from disaster_ai.storage.models import AuditEvent

    new = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if new:
        session.info.setdefault(PENDING_KEY, []).extend(new)


def seal_pending(session: Session) -> list[int]:
    """before_commit: chain this transaction's audit events; returns their ids in chain order."""
    from sqlalchemy import inspect as sa_inspect

    from disaster_ai.storage.models import AuditChain, AuditEvent

    if not session.info.get(PENDING_KEY) and not any(
        isinstance(obj, AuditEvent) for obj in session.new
    ):
        return []
    session.flush()  # ids for the new rows (and any added since the last flush)
    pending = session.info.pop(PENDING_KEY, [])
    ids = sorted(
        {
            obj.id
            for obj in pending
            if obj.id is not None and sa_inspect(obj).persistent  # a rolled-back savepoint's
        }  # rows are transient again and never reach the chain
    )
    if not ids:
        return []
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    last = session.execute(
        select(AuditChain.seq, AuditChain.hash).order_by(AuditChain.seq.desc()).limit(1)
    ).first()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
    table = AuditEvent.__table__
    rows = session.execute(select(table).where(table.c.id.in_(ids)).order_by(table.c.id))
    sealed = []
    for row in rows.mappings():
        seq += 1
        digest = link(prev, dict(row))
        session.add(AuditChain(seq=seq, event_id=row["id"], prev_hash=prev, hash=digest))
        prev = digest
        sealed.append(row["id"])
    session.flush()
    return sealed


def install(session_class=Session) -> None:
    """Seal on every commit of every ORM session (idempotent)."""
    if not event.contains(session_class, "before_flush", track_new_events):
        event.listen(session_class, "before_flush", track_new_events)


# --- verifying -----------------------------------------------------------------------------


@dataclass
class Verdict:
    ok: bool
    checked: int
    head: str
    first_bad_event: int | None = None
    first_bad_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def verify(connection) -> Verdict:
    """Walk the chain in order; stop at the first row that does not match."""
    from disaster_ai.storage.models import AuditChain, AuditEvent

    events = AuditEvent.__table__
    chain = AuditChain.__table__
    query = (
        select(chain.c.seq, chain.c.event_id, chain.c.prev_hash, chain.c.hash, events)
        .select_from(chain.outerjoin(events, events.c.id == chain.c.event_id))
        .order_by(chain.c.seq)
    )
    prev, expected_seq, checked = GENESIS, 1, 0
    result = connection.execution_options(yield_per=2000).execute(query)
    for row in result.mappings():
        checked += 1
        bad = None
        if row["seq"] != expected_seq:
            bad = "missing_link"  # a chain row was removed before this one
        elif row["prev_hash"] != prev:
            bad = "broken_link"
        elif row["id"] is None:
            bad = "event_deleted"
        elif link(prev, dict(row)) != row["hash"]:
            bad = "content_changed"
        if bad:
            result.close()
            return Verdict(False, checked, prev, row["event_id"], row["seq"], bad)
        prev, expected_seq = row["hash"], expected_seq + 1
    unsealed = connection.execute(
        select(events.c.id)
        .where(~select(chain.c.event_id).where(chain.c.event_id == events.c.id).exists())
        .order_by(events.c.id)
        .limit(1)
    ).scalar()
    if unsealed is not None:
        return Verdict(False, checked, prev, unsealed, None, "not_in_chain")
    return Verdict(True, checked, prev)


# --- the command -------------------------------------------------------------------------


def register_commands(cli) -> None:
    import json as json_module

    import click
    from flask.cli import with_appcontext
    from flask_babel import gettext as _

    @click.group("audit")
    def audit_group():
        """The audit log: check its hash chain."""

    @audit_group.command("verify")
    @click.option("--json", "as_json", is_flag=True)
    @with_appcontext
    def verify_command(as_json):
        """Check the hash chain of the whole audit log: exit 0 when intact, 1 with the first
        bad event's id otherwise."""
        from disaster_ai.storage import get_storage

        with get_storage().engine.connect() as connection:
            verdict = verify(connection)
        if as_json:
            click.echo(json_module.dumps(verdict.as_dict(), ensure_ascii=False, indent=2))
        elif verdict.ok:
            click.echo(
                _(
                    "The audit log is intact: %(count)s rows checked, last hash %(head)s.",
                    count=verdict.checked,
                    head=verdict.head,
                )
            )
        else:
            click.echo(
                _(
                    "The audit log was tampered with: event %(id)s (%(reason)s) is the first "
                    "row that does not match its hash chain.",
                    id=verdict.first_bad_event,
                    reason=str(REASONS.get(verdict.reason, verdict.reason)),
                ),
                err=True,
            )
        raise SystemExit(0 if verdict.ok else 1)

    cli.add_command(audit_group)
