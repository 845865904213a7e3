"""Tables of the transcription app: one row per uploaded call recording.

The audio lives under ``<instance>/calls/`` with a random name (``stored_name``); the
uploader's file name is metadata only. ``text``/``segments`` keep the engine's transcript as it
came (never rewritten); ``facts`` holds what was extracted, with the callback number already
masked. ``expires_at`` drives the purge job, which deletes the audio and the transcript and
keeps the row (facts, incident link) for the record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from disaster_ai.storage.base import AwareDateTime, Base, JSONText, now

CALL_STATUSES = ("queued", "transcribing", "done", "failed", "purged")


class CallRecording(Base):
    __tablename__ = "call_recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    original_name: Mapped[str] = mapped_column(String(255), default="")  # metadata only
    stored_name: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    content_type: Mapped[str] = mapped_column(String(128), default="")
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    container: Mapped[str] = mapped_column(String(32), default="")
    codec: Mapped[str] = mapped_column(String(32), default="")
    sample_rate: Mapped[int] = mapped_column(Integer, default=0)
    channels: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    engine: Mapped[str] = mapped_column(String(32), default="")
    model: Mapped[str] = mapped_column(String(128), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    segments: Mapped[list] = mapped_column(JSONText, default=list)
    facts: Mapped[dict] = mapped_column(JSONText, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True, index=True
    )
    uploaded_by: Mapped[str] = mapped_column(String(64), default="system")
    uploaded_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    transcribed_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(AwareDateTime, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
