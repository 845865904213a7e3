"""The situation app's parts of the facade (``dai_desk_part``): incidents, layers and shelters.

Other apps and plugins read and change incidents, layers and shelters only through
``disaster_ai.desk`` (``desk.incidents.query`` …), which asks these objects. They take the
caller's session and return the plain values of ``disaster_ai.types``, never rows.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai.apps.situation import analysis, incidents, layers
from disaster_ai.apps.situation.models import GeoFeature, GeoLayerVersion, Incident, ShelterStatus
from disaster_ai.types import Actor, IncidentInfo, LayerFeature, ShelterState


def incident_info(row: Incident) -> IncidentInfo:
    return IncidentInfo(
        id=row.id,
        category=row.category,
        status=row.status,
        occurred_at=row.occurred_at,
        description=row.description or "",
        place_name=row.place_name,
        district_key=row.district_key,
        lon=row.lon,
        lat=row.lat,
        life_threat=bool(row.life_threat),
        people=row.people,
        vulnerable=bool(row.vulnerable),
        source=row.source or "",
        merged_into=row.merged_into,
        external_ref=row.external_ref,
    )


def feature_info(row: GeoFeature) -> LayerFeature:
    return LayerFeature(
        key=row.key,
        name=row.name or "",
        name_kana=row.name_kana or "",
        geometry=row.geometry,
        props=dict(row.props or {}),
    )


class IncidentsPart:
    def get(self, session: Session, incident_id: int) -> IncidentInfo | None:
        row = session.get(Incident, incident_id)
        return None if row is None else incident_info(row)

    def query(
        self,
        session: Session,
        *,
        ids=None,
        place_name=None,
        categories=None,
        statuses=None,
        exclude_statuses=None,
        since=None,
        exclude_id=None,
        merged=False,
        newest_first=False,
        limit=None,
    ) -> list[IncidentInfo]:
        if merged is False:
            query = incidents.visible_incidents()
        elif merged is True:
            query = select(Incident).where(Incident.merged_into.is_not(None))
        else:
            query = select(Incident)
        if ids is not None:
            query = query.where(Incident.id.in_(list(ids)))
        if place_name is not None:
            query = query.where(Incident.place_name == place_name)
        if categories is not None:
            query = query.where(Incident.category.in_(list(categories)))
        if statuses is not None:
            query = query.where(Incident.status.in_(list(statuses)))
        if exclude_statuses:
            query = query.where(Incident.status.not_in(list(exclude_statuses)))
        if since is not None:
            query = query.where(Incident.occurred_at >= since)
        if exclude_id is not None:
            query = query.where(Incident.id != exclude_id)
        if newest_first:
            query = query.order_by(Incident.occurred_at.desc(), Incident.id.desc())
        else:
            query = query.order_by(Incident.id)
        if limit is not None:
            query = query.limit(int(limit))
        return [incident_info(row) for row in session.scalars(query)]

    def create(self, session: Session, values: dict, actor: Actor) -> IncidentInfo:
        return incident_info(incidents.create_incident(session, values, actor))

    def update(self, session: Session, incident_id: int, values: dict, actor: Actor):
        return incident_info(incidents.update_incident(session, incident_id, values, actor))

    def replace_description(self, session: Session, incident_id: int, old: str, new: str) -> bool:
        row = session.get(Incident, incident_id)
        if row is None or not old or row.description != old:
            return False
        row.description = new
        return True


class LayersPart:
    def active_versions(self, session: Session) -> dict[str, int]:
        rows = session.execute(
            select(GeoLayerVersion.layer, GeoLayerVersion.id)
            .where(GeoLayerVersion.active.is_(True))
            .order_by(GeoLayerVersion.id)
        ).all()
        return {layer: version_id for layer, version_id in rows}

    def features(self, session: Session, layer: str) -> list[LayerFeature]:
        version = layers.active_version(session, layer)
        if version is None:
            return []
        rows = session.scalars(
            select(GeoFeature).where(GeoFeature.version_id == version.id).order_by(GeoFeature.id)
        )
        return [feature_info(row) for row in rows]

    def prepared(self, session: Session):
        from disaster_ai.apps.situation.report.build import _cache, _config, prepared_layers
        from disaster_ai.apps.situation.report.common import Settings

        if layers.active_version(session, "districts") is None:
            return None
        return prepared_layers(session, Settings.from_config(_config()), _cache())


class SheltersPart:
    def get(self, session: Session, key: str) -> LayerFeature | None:
        row = incidents.shelter_feature(key, session)
        return None if row is None else feature_info(row)

    def states(self, session: Session) -> list[ShelterState]:
        return [
            ShelterState(s.shelter_key, bool(s.is_open), s.occupancy, s.updated_at, s.updated_by)
            for s in session.scalars(select(ShelterStatus).order_by(ShelterStatus.shelter_key))
        ]

    def set_status(self, session: Session, key: str, is_open, occupancy, actor: Actor) -> bool:
        _status, changed = incidents.set_shelter_status(
            session, key, actor, is_open=is_open, occupancy=occupancy
        )
        return changed

    def listing(self, session: Session, m2_per_person: float) -> dict:
        return incidents.list_shelters(session, m2_per_person)

    def assessment(self, prepared, states, hazard):
        return analysis.shelter_assessment(prepared, states, hazard)

    def nearest(self, prepared, candidates):
        return analysis.nearest_shelters(prepared, candidates)


PARTS = {"incidents": IncidentsPart, "layers": LayersPart, "shelters": SheltersPart}


def part(name: str):
    found = PARTS.get(name)
    return None if found is None else found()
