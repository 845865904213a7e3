"""Facts built straight from the copied Yaizu files (no database), for fast renderer tests."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import shapely

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices import guard
from disaster_ai.apps.notices.reference import district_ring
from disaster_ai.config import REPO_ROOT
from disaster_ai.storage.base import JST

YAIZU = Path(REPO_ROOT) / "sample_data" / "yaizu"
T = datetime(2026, 7, 1, 20, 5, tzinfo=JST)


@lru_cache(maxsize=1)
def yaizu_districts() -> tuple[f.District, ...]:
    data = json.loads((YAIZU / "yaizu_jichikai_areas.geojson").read_text(encoding="utf-8"))
    out = []
    for feature in data["features"]:
        props = feature["properties"]
        geometry = shapely.geometry.shape(feature["geometry"])
        out.append(
            f.District(
                key=f"jichikai-{props['id']}",
                name=props["name"],
                ring=district_ring(geometry),
            )
        )
    return tuple(out)


@lru_cache(maxsize=1)
def yaizu_shelter_names() -> tuple[tuple[str, str], ...]:
    data = json.loads((YAIZU / "yaizu_designated_shelters.geojson").read_text(encoding="utf-8"))
    return tuple(
        (str(feat["properties"]["name"]), str(feat["properties"].get("name_kana") or ""))
        for feat in data["features"]
    )


def universe() -> guard.Universe:
    return guard.Universe(
        tuple(d.name for d in yaizu_districts()),
        (),
        tuple(name for name, _kana in yaizu_shelter_names()),
    )


def make_facts(
    hazard="inland_flood",
    level=4,
    action=f.ISSUE,
    exercise=False,
    n_districts=2,
    n_shelters=1,
    reason="大雨により、道路や住宅が浸水するおそれが高まっています。",
    first=0,
) -> f.NoticeFacts:
    districts = yaizu_districts()[first : first + n_districts]
    shelters = tuple(
        f.ShelterChoice(key=f"designated-{i}", name=name, name_kana=kana)
        for i, (name, kana) in enumerate(yaizu_shelter_names()[:n_shelters])
    )
    return f.NoticeFacts(
        hazard=hazard,
        action=action,
        level=level,
        districts=districts,
        issued_at=T,
        issuer="焼津市",
        issuer_en="Yaizu City",
        shelters=() if action == f.LIFT else shelters,
        reason=reason,
        exercise=exercise,
        jis_code="22212",
        lg_code="222127",
        identifier="JP-222127-2026-0042",
        sender="bousai@city.yaizu.example.lg.jp",
        references=(
            "bousai@city.yaizu.example.lg.jp,JP-222127-2026-0041,2026-07-01T17:30:00+09:00",
        )
        if action == f.LIFT
        else (),
    )


def designated_keys(app, hazard) -> list[str]:
    """The keys of the shelters designated for ``hazard`` in the loaded layer."""
    from disaster_ai.apps.notices import reference
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        layers = reference.reference_layers(session)
        return [
            key
            for key, hazards in zip(layers.shelters["key"], layers.shelters["hazards"], strict=True)
            if hazards is not None and hazard in list(hazards)
        ]
