"""Tables of the AI governance app: which outside hosts may receive which data class (set by
an admin, audited), the cache of weight-file digests, and AI incident reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from disaster_ai.storage.base import AwareDateTime, Base, JSONText, now

INCIDENT_STATES = ("open", "closed")
INCIDENT_SEVERITIES = ("low", "medium", "high")


class HostDataClass(Base):
    """An outside host an admin allowed to receive a non-public data class."""

    __tablename__ = "governance_host_classes"
    __table_args__ = (
        UniqueConstraint("host", "data_class", name="uq_governance_host_classes_host_class"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255), index=True)
    data_class: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500), default="")
    allowed_by: Mapped[str] = mapped_column(String(64))
    allowed_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)


class WeightDigest(Base):
    """The sha256 of a set of weight files, valid while each file keeps its size and mtime."""

    __tablename__ = "governance_weight_digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the paths
    signature: Mapped[str] = mapped_column(Text)  # path|size|mtime_ns per file
    sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[list] = mapped_column(JSONText, default=list)  # [{path, sha256, bytes}]
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    computed_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)


class AIIncident(Base):
    """An AI incident report: what happened, which output, the impact, the action taken, and
    the audit entries it is about."""

    __tablename__ = "governance_ai_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    feature: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    what_happened: Mapped[str] = mapped_column(Text, default="")
    output: Mapped[str] = mapped_column(Text, default="")  # which output (a reference)
    impact: Mapped[str] = mapped_column(Text, default="")
    action_taken: Mapped[str] = mapped_column(Text, default="")
    audit_ids: Mapped[list] = mapped_column(JSONText, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")
    reported_by: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
