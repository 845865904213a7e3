"""The core ``dai_place_names``: the active places layer (町丁目) and the shelters."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from disaster_ai.apps.transcription.types import PlaceName
from disaster_ai.storage import get_storage, session_scope


def core_place_names() -> list[PlaceName]:
    from disaster_ai.apps.situation.layers import active_version
    from disaster_ai.apps.situation.models import GeoFeature

    result: list[PlaceName] = []
    with session_scope(get_storage(current_app)) as session:
        for layer, kind in (("places", "town"), ("shelters", "shelter")):
            version = active_version(session, layer)
            if version is None:
                continue
            rows = session.execute(
                select(GeoFeature.key, GeoFeature.name, GeoFeature.name_kana)
                .where(GeoFeature.version_id == version.id)
                .order_by(GeoFeature.id)
            ).all()
            for key, name, kana in rows:
                if name:
                    result.append(PlaceName(name, key, kind, (kana,) if kana else ()))
    return result
