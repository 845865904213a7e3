"""Tables of the reports app: the damage tally of an event (versioned), proposals from
incidents, the issued reports (第N報, frozen) and their deliveries, and the evacuee history of
each shelter.

The database carries the rules that must hold under concurrent writers:

- ``UNIQUE (event_id, item, version)``: a tally value is never overwritten; each change is a new
  version of its item, numbered max + 1 inside the inserting transaction.
- ``UNIQUE (event_id, incident_id)``: an incident proposes at most one tally change per event,
  so the same incident can never be counted twice.
- ``UNIQUE (event_id, number)``: 第N報 numbers, as for bulletins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from disaster_ai.storage.base import AwareDateTime, Base, JSONText, now

STATES = ("confirmed", "unconfirmed")  # 確定 / 未確認
SOURCES = ("phone", "field_team", "incidents", "agency", "desk", "other")
PROPOSAL_STATES = ("pending", "accepted", "rejected", "withdrawn")
DELIVERY_STATES = ("pending", "retrying", "delivered", "failed")


class TallyEntry(Base):
    """One version of one item of an event's damage tally (the latest version counts)."""

    __tablename__ = "report_tally_entries"
    __table_args__ = (
        UniqueConstraint("event_id", "item", "version", name="uq_report_tally_entries_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("disaster_events.id", ondelete="CASCADE"), index=True
    )
    item: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)  # canonical text; None: none
    state: Mapped[str] = mapped_column(String(16))  # confirmed | unconfirmed
    source: Mapped[str] = mapped_column(String(16), default="desk")
    source_note: Mapped[str] = mapped_column(String(255), default="")
    incident_ids: Mapped[list] = mapped_column(JSONText, default=list)
    proposal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    entered_by: Mapped[str] = mapped_column(String(64), default="system")
    entered_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)


class TallyProposal(Base):
    """A confirmed incident's proposed change to the tally, waiting for the desk's decision."""

    __tablename__ = "report_proposals"
    __table_args__ = (
        UniqueConstraint("event_id", "incident_id", name="uq_report_proposals_incident"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("disaster_events.id", ondelete="CASCADE"), index=True
    )
    incident_id: Mapped[int] = mapped_column(Integer, index=True)
    category: Mapped[str] = mapped_column(String(32))
    item: Mapped[str] = mapped_column(String(128))
    amount: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    decided_item: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_amount: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(String(255), default="")
    entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class DamageReport(Base):
    """One issued report (第N報) with everything rendering needs frozen in ``snapshot``."""

    __tablename__ = "damage_reports"
    __table_args__ = (UniqueConstraint("event_id", "number", name="uq_damage_reports_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("disaster_events.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    issued_by: Mapped[str] = mapped_column(String(64), default="system")
    reporter: Mapped[str] = mapped_column(String(128), default="")
    snapshot: Mapped[dict] = mapped_column(JSONText)


class DamageReportDelivery(Base):
    """One report to one target (an e-mail address …) and how it went."""

    __tablename__ = "damage_report_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("damage_reports.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    delivered_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)


class ShelterEvacuees(Base):
    """One recording of a shelter on the night: open or closed, 人数, 世帯, 要配慮者. The
    latest row of a shelter is its current figure; the rows before it are its history.
    ``households`` and ``vulnerable`` are None when not counted (未確認)."""

    __tablename__ = "shelter_evacuee_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    shelter_key: Mapped[str] = mapped_column(String(64), index=True)
    shelter_name: Mapped[str] = mapped_column(String(255), default="")
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("disaster_events.id", ondelete="SET NULL"), nullable=True, index=True
    )
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    people: Mapped[int] = mapped_column(Integer, default=0)
    households: Mapped[int | None] = mapped_column(Integer, nullable=True)
    vulnerable: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    recorded_by: Mapped[str] = mapped_column(String(64), default="system")
    recorded_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
