"""Read, set and check the municipality profile (the one ``municipality`` row).

Every public-facing text names its issuer, and CAP needs the codes: ``require(session)`` raises
``ProfileMissing`` (a Japanese sentence naming the command to run) when no profile is set.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from disaster_ai.municipality import table
from disaster_ai.storage.models import Municipality

PROFILE_KEYS = (
    "name",
    "name_kana",
    "name_en",
    "lg_code",
    "jis_code",
    "prefecture",
    "jma_area_code",
)
N03_ATTRIBUTION = "出典：国土数値情報（行政区域データ）（国土交通省）を加工して作成"
KATAKANA = re.compile(r"^[\u30a0-\u30ffー・\s]*$")


def _(message: str, **params) -> str:
    from flask import has_app_context

    if has_app_context():
        from flask_babel import gettext

        return gettext(message, **params)
    return message % params if params else message


class ProfileProblem(ValueError):
    """A value the profile cannot take; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class ProfileMissing(RuntimeError):
    """No municipality profile: the message says how to set one."""

    def __init__(self):
        self.message = missing_message()
        super().__init__(self.message)


def missing_message() -> str:
    return _(
        "The municipality is not set, so nothing public can say who issues it. Run "
        "`disaster-ai init --municipality CODE` (団体コード, JIS code or name) or "
        "`disaster-ai municipality set`, or ask an administrator to."
    )


def current(session: Session) -> Municipality | None:
    return session.scalar(select(Municipality).order_by(Municipality.id.desc()).limit(1))


def require(session: Session) -> Municipality:
    row = current(session)
    if row is None or not (row.name or "").strip() or not row.jis_code:
        raise ProfileMissing()
    return row


def profile_dict(row: Municipality | None) -> dict | None:
    if row is None:
        return None
    entry = table.by_jis(row.jis_code) if row.jis_code else None
    jma_derived = (
        entry is not None
        and entry.jma_area_source == "derived"
        and row.jma_area_code == entry.jma_area_code
    )
    return {
        "name": row.name,
        "name_kana": row.name_kana or "",
        "name_en": row.name_en or "",
        "lg_code": row.lg_code,
        "jis_code": row.jis_code,
        "prefecture": row.prefecture or (entry.prefecture if entry else ""),
        "jma_area_code": row.jma_area_code or "",
        "jma_area_code_derived": jma_derived,
        "full_name": entry.full_name if entry else row.name,
        "boundary": row.boundary is not None,
        "attribution": row.attribution or "",
        "updated_at": row.loaded_at.isoformat() if row.loaded_at else None,
    }


def set_from_entry(session: Session, entry: table.Entry) -> Municipality:
    """Make ``entry`` the profile. The outline is kept only when the municipality is the same."""
    row = current(session)
    same = row is not None and row.jis_code == entry.jis_code
    boundary = row.boundary if same else None
    attribution = row.attribution if same else ""
    session.execute(delete(Municipality))
    new = Municipality(
        name=entry.name,
        name_kana=entry.name_kana,
        name_en=entry.name_en,
        lg_code=entry.lg_code,
        jis_code=entry.jis_code,
        prefecture=entry.prefecture,
        jma_area_code=entry.jma_area_code,
        boundary=boundary,
        attribution=attribution,
    )
    session.add(new)
    session.flush()
    return new


def complete_from_table(session: Session) -> Municipality | None:
    """Fill what a sample kit's profile left empty (reading, prefecture, JMA code) from the
    national table by its JIS code; the kit's own values win."""
    row = current(session)
    if row is None or not row.jis_code:
        return row
    entry = table.by_jis(row.jis_code)
    if entry is None:
        return row
    for field in ("name_kana", "name_en", "prefecture", "jma_area_code"):
        if not getattr(row, field):
            setattr(row, field, getattr(entry, field))
    session.flush()
    return row


def update(session: Session, **values) -> Municipality:
    """Change single fields of the profile (None: unchanged). Checked: codes and their digits,
    the reading in katakana, the JMA code(s) as 7 digits each."""
    row = current(session)
    if row is None:
        raise ProfileMissing()
    values = {k: v for k, v in values.items() if v is not None}
    if "name" in values:
        name = values["name"].strip()
        if not name:
            raise ProfileProblem("name", _("The name cannot be empty."))
        values["name"] = name
    if "name_kana" in values:
        kana = values["name_kana"].strip()
        if not KATAKANA.match(kana):
            raise ProfileProblem("name_kana", _("The reading must be in katakana."))
        values["name_kana"] = kana
    if "lg_code" in values or "jis_code" in values:
        lg = values.get("lg_code", row.lg_code)
        jis = values.get("jis_code", row.jis_code if "lg_code" not in values else lg[:5])
        if not (re.fullmatch(r"\d{6}", lg or "") and table.check_digit(lg[:5]) == lg[5]):
            raise ProfileProblem(
                "lg_code",
                _("%(code)s is not a 団体コード (6 digits with its check digit).", code=lg),
            )
        if jis != lg[:5]:
            raise ProfileProblem(
                "jis_code",
                _("The JIS code %(jis)s does not match the 団体コード %(lg)s.", jis=jis, lg=lg),
            )
        values["lg_code"], values["jis_code"] = lg, jis
    if "jma_area_code" in values:
        codes = [c.strip() for c in values["jma_area_code"].split(",") if c.strip()]
        if not codes or not all(re.fullmatch(r"\d{7}", c) for c in codes):
            raise ProfileProblem(
                "jma_area_code",
                _("The JMA area code is 7 digits (several: separated by commas)."),
            )
        values["jma_area_code"] = ",".join(codes)
    for field, value in values.items():
        setattr(row, field, value)
    session.flush()
    return row


def read_n03_outline(path: Path | str, jis_code: str) -> dict:
    """The outline of ``jis_code`` from a 国土数値情報 N03 file (GeoJSON Feature or
    FeatureCollection, GeoPackage, Shapefile): every polygon whose N03_007 is that code (or,
    for a 政令市, one of its wards), dissolved, in EPSG:4326, as a GeoJSON geometry."""
    import geopandas as gpd
    import pyogrio
    import shapely

    path = Path(path)
    try:
        if path.suffix.lower() in (".geojson", ".json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("type") == "Feature":
                data = {"type": "FeatureCollection", "features": [data]}
            frame = gpd.GeoDataFrame.from_features(data["features"], crs=4326)
        else:
            frame = pyogrio.read_dataframe(path)
    except Exception as exc:  # broken files come in many types
        raise ProfileProblem(
            "boundary", _("Cannot read %(file)s: %(reason)s", file=path.name, reason=str(exc)[:200])
        ) from None
    if "N03_007" not in frame.columns:
        raise ProfileProblem(
            "boundary",
            _(
                "%(file)s is not a 国土数値情報 N03 file (it has no N03_007 column).",
                file=path.name,
            ),
        )
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    codes = frame["N03_007"].astype(str).str.strip().str.zfill(5)
    wards = {e.jis_code for e in table.entries() if e.parent_jis == jis_code}
    chosen = frame[codes.isin({jis_code} | wards)]
    if chosen.empty:
        raise ProfileProblem(
            "boundary",
            _("%(file)s has no polygon with N03_007 = %(code)s.", file=path.name, code=jis_code),
        )
    geometry = shapely.make_valid(shapely.union_all(chosen.geometry.values))
    return json.loads(shapely.to_geojson(geometry))


def set_boundary(session: Session, geometry: dict, attribution: str) -> Municipality:
    row = current(session)
    if row is None:
        raise ProfileMissing()
    row.boundary = geometry
    row.attribution = attribution
    session.flush()
    return row
