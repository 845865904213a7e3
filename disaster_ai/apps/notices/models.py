"""Tables of the notices app: one row per edition of an evacuation notice (避難情報).

A notice chain starts with a 発令 (CAP msgType Alert). A later edition (an update, or the 解除)
is a new row whose ``supersedes_id`` points at the edition it replaces and whose ``chain_id`` is
the first edition's id; issuing it marks the previous edition ``superseded``. An issued row is
never changed again except for that status flip (and ``cancelled``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from disaster_ai.storage.base import AwareDateTime, Base, JSONText, now

STATUSES = ("draft", "submitted", "approved", "issued", "superseded", "cancelled")


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_status_issued", "status", "issued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    edition: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    hazard: Mapped[str] = mapped_column(String(32))  # situation hazard code, e.g. inland_flood
    action: Mapped[str] = mapped_column(String(8))  # 発令 | 解除
    level: Mapped[int] = mapped_column(Integer)  # 3, 4, 5
    districts: Mapped[list] = mapped_column(JSONText, default=list)  # [{key, name, name_kana}]
    shelters: Mapped[list] = mapped_column(JSONText, default=list)  # [{key, name, why, ...}]
    reason: Mapped[str] = mapped_column(Text, default="")
    exercise: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_at: Mapped[datetime] = mapped_column(AwareDateTime)  # the time stated in the notice
    # True: the operator set ``issued_at`` (a future time is kept at 発令); False: the texts
    # are re-rendered with the moment of 発令
    time_explicit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    identifier: Mapped[str] = mapped_column(String(64), default="")  # CAP identifier
    texts: Mapped[dict] = mapped_column(JSONText, default=dict)  # channel -> text (approved)
    edits: Mapped[dict] = mapped_column(JSONText, default=dict)  # channel -> manual edit
    guard: Mapped[dict] = mapped_column(JSONText, default=dict)  # the last guard report
    acknowledged: Mapped[list] = mapped_column(JSONText, default=list)  # violation ids
    # what the approver confirmed explicitly, e.g. naming shelters that are not open:
    # [{"kind": "unopened_shelters", "shelters": [keys], "reason", "by", "at"}]
    confirmations: Mapped[list] = mapped_column(JSONText, default=list, server_default="[]")
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    submitted_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    # a 提案 (suggestion) from a plugin: {plugin, ref, title, url, detail, at}; None otherwise
    suggestion: Mapped[dict | None] = mapped_column(JSONText, nullable=True)
