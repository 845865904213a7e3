"""Tables of the situation app.

Reference layers (districts, places, shelters, hazard zones) are versioned: an import writes a
new ``GeoLayerVersion`` with its ``GeoFeature`` rows and switches the active version in one
transaction, keeping the previous ones. Live data lives beside them: ``ShelterStatus`` (open,
occupancy, keyed by the shelter's stable key so it survives a re-import) and ``Incident``.
Geometries are GeoJSON in EPSG:4326 (lon, lat).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from disaster_ai.categories import BUILTIN_CODES
from disaster_ai.hazards import BUILTIN_CODES as BUILTIN_HAZARDS
from disaster_ai.storage.base import AwareDateTime, Base, GeoJSON, JSONText, now

LAYERS = ("districts", "places", "shelters", "hazard_zones")
HAZARDS = BUILTIN_HAZARDS  # the built-in ones; the registry: disaster_ai.hazards.codes()
INCIDENT_CATEGORIES = BUILTIN_CODES  # the built-in ones; the registry: categories.codes()
INCIDENT_SOURCES = ("call", "manual", "plugin", "feed")
INCIDENT_STATUSES = ("unverified", "confirmed", "resolved")


class GeoLayerVersion(Base):
    __tablename__ = "geo_layer_versions"
    __table_args__ = (
        UniqueConstraint("layer", "version", name="uq_geo_layer_versions_layer_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    layer: Mapped[str] = mapped_column(String(32), index=True)  # one of LAYERS
    version: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    source_name: Mapped[str] = mapped_column(String(255))  # original file name: metadata only
    source_crs: Mapped[str] = mapped_column(String(64), default="")
    feature_count: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict] = mapped_column(
        JSONText, default=dict
    )  # repairs, skipped rows, mapping used
    attribution: Mapped[str] = mapped_column(Text, default="")
    imported_by: Mapped[str] = mapped_column(String(64), default="system")
    imported_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)


class GeoFeature(Base):
    """One feature of a layer version. Common fields are columns; the rest is in ``props``."""

    __tablename__ = "geo_features"
    __table_args__ = (Index("ix_geo_features_version_key", "version_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("geo_layer_versions.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))  # stable id within the layer (code, or derived)
    name: Mapped[str] = mapped_column(String(255), default="")
    name_kana: Mapped[str] = mapped_column(String(255), default="")
    props: Mapped[dict] = mapped_column(JSONText, default=dict)
    geometry: Mapped[dict] = mapped_column(GeoJSON)


class ShelterStatus(Base):
    """Live state of a shelter, keyed by the shelter feature's ``key``."""

    __tablename__ = "shelter_status"

    shelter_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    occupancy: Mapped[int] = mapped_column(Integer, default=0)
    updated_by: Mapped[str] = mapped_column(String(64), default="system")
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status_time", "status", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    life_threat: Mapped[bool] = mapped_column(Boolean, default=False)
    people: Mapped[int | None] = mapped_column(
        Integer, nullable=True
    )  # people affected, when known
    vulnerable: Mapped[bool] = mapped_column(Boolean, default=False)  # elderly, disabled, infants …
    source: Mapped[str] = mapped_column(String(16), default="manual")
    status: Mapped[str] = mapped_column(String(16), default="unverified")
    occurred_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    lon: Mapped[float | None] = mapped_column(
        Float, nullable=True
    )  # None when only the place is known
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    district_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    place_name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    # the outside system's reference ("<plugin>:<ref>"), unique: desk.incidents.upsert
    external_ref: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
