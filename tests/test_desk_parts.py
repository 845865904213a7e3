"""The facade's read parts (disaster_ai.desk): incidents, layers, shelters, disasters and the
notices in force, which the apps use instead of importing each other (dai_desk_part)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from disaster_ai import hookimpl
from disaster_ai.desk import Desk, DeskUnavailable
from disaster_ai.errors import ApiError
from disaster_ai.storage.base import now
from disaster_ai.types import DisasterInfo, IncidentInfo, LayerFeature, ShelterState

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
AT = {"lon": 138.3, "lat": 34.87}


@pytest.fixture
def layers(app, yaizu):
    sys.path.insert(0, str(Path(__file__).parent / "apps" / "situation"))
    from situation_helpers import ensure_yaizu_layers

    ensure_yaizu_layers(app)
    return app


@sqlite_only
def test_incidents_create_get_query_update(app):
    desk = Desk(app, "river_feed")
    first = desk.incidents.create({"category": "fire", "place_name": "", **AT})
    assert isinstance(first, IncidentInfo) and first.category == "fire"
    assert first.status == "unverified" and first.occurred_at.tzinfo is not None
    second = desk.incidents.create({"category": "rescue", "people": 2, **AT})
    assert desk.incidents.get(first.id) == first and desk.incidents.get(999_999) is None
    assert [i.id for i in desk.incidents.query()] == [first.id, second.id]
    assert [i.id for i in desk.incidents.query(categories=["rescue"])] == [second.id]
    assert [i.id for i in desk.incidents.query(newest_first=True, limit=1)] == [second.id]
    assert desk.incidents.query(since=now() + timedelta(hours=2)) == []
    assert [i.id for i in desk.incidents.query(exclude_id=first.id)] == [second.id]
    updated = desk.incidents.update(second.id, {"status": "resolved"})
    assert updated.status == "resolved"
    assert [i.id for i in desk.incidents.query(exclude_statuses=["resolved"])] == [first.id]
    assert [i.id for i in desk.incidents.query(statuses=["resolved"])] == [second.id]
    assert desk.incidents.query(merged=True) == []
    with pytest.raises(ApiError):
        desk.incidents.create({"category": "no_such_category", **AT})


@sqlite_only
def test_incidents_replace_description_only_while_unchanged(app):
    desk = Desk(app, "river_feed")
    made = desk.incidents.create({"category": "fire", "description": "copied text", **AT})
    assert not desk.incidents.replace_description(made.id, old="other text", new="gone")
    assert desk.incidents.replace_description(made.id, old="copied text", new="gone")
    assert desk.incidents.get(made.id).description == "gone"
    assert not desk.incidents.replace_description(999_999, old="x", new="y")


@sqlite_only
def test_the_read_parts_are_unavailable_when_their_app_is_blocked(make_app):
    app = make_app(DISABLED_PLUGINS=["disaster_ai.apps.situation", "disaster_ai.apps.bulletins"])
    desk = Desk(app, "river_feed")
    for call in (
        lambda: desk.incidents.query(),
        lambda: desk.layers.features("places"),
        lambda: desk.shelters.states(),
        lambda: desk.disasters.current(),
    ):
        with pytest.raises(DeskUnavailable):
            call()


def test_layers_and_shelters(app, layers):
    desk = Desk(app, "river_feed")
    versions = desk.layers.active_versions()
    assert {"districts", "shelters"} <= set(versions)
    shelters = desk.layers.features("shelters")
    assert shelters and all(isinstance(s, LayerFeature) for s in shelters)
    assert shelters[0].name and shelters[0].geometry["type"]
    assert desk.layers.features("no_such_layer") == []
    key = shelters[0].key
    assert desk.shelters.get(key) == shelters[0] and desk.shelters.get("nowhere") is None
    assert desk.shelters.set_status(key, is_open=True, occupancy=12)
    assert not desk.shelters.set_status(key, is_open=True, occupancy=12)  # nothing changed
    [state] = [s for s in desk.shelters.states() if s.key == key]
    assert isinstance(state, ShelterState) and state.is_open and state.occupancy == 12
    listed = {s["key"]: s for s in desk.shelters.listing()["shelters"]}
    assert listed[key]["is_open"] and listed[key]["occupancy"] == 12
    with pytest.raises(ApiError):
        desk.shelters.set_status("nowhere", is_open=True)

    prepared = desk.layers.prepared()
    assert prepared is desk.layers.prepared()  # cached until a layer changes
    assert len(prepared.shelters) == len(shelters)
    import pandas as pd

    states = pd.DataFrame.from_records(
        [(s.key, s.is_open, s.occupancy, s.updated_at) for s in desk.shelters.states()],
        columns=["shelter_key", "is_open", "occupancy", "updated_at"],
    )
    with app.app_context():
        assessment = desk.shelters.assessment(prepared, states, "flood")
        assert len(assessment) == len(shelters) and "state" in assessment
        nearest = desk.shelters.nearest(prepared, np.ones(len(shelters), dtype=bool))
        assert len(nearest) == len(prepared.districts)


@sqlite_only
def test_layers_prepared_is_none_without_districts(app):
    assert Desk(app, "river_feed").layers.prepared() is None


@sqlite_only
def test_disasters_open_get_current_listing(app):
    desk = Desk(app, "river_feed")
    assert desk.disasters.current() is None and desk.disasters.listing() == []
    opened = desk.disasters.open("令和8年台風第10号", hazard="flood", exercise=True)
    event = desk.disasters.get(opened["id"])
    assert isinstance(event, DisasterInfo) and event.name == "令和8年台風第10号"
    assert event.hazard == "flood" and event.exercise and event.closed_at is None
    assert event.opened_by == "river_feed"
    assert desk.disasters.current() == event and desk.disasters.get(999_999) is None
    assert [e["id"] for e in desk.disasters.listing()] == [event.id]


@sqlite_only
def test_notices_in_force_through_the_facade(app, register_plugin):
    class InForce:
        @hookimpl
        def dai_notices_in_force(self, at):
            return [
                {"district_key": "d-1", "district_name": "一区", "level": 4, "hazard": "flood"},
                {"district_key": "d-2", "district_name": "二区", "level": 7},
            ]

    register_plugin(InForce(), name="in_force")
    part = Desk(app, "river_feed").notices.in_force()
    assert part["status"] == "error"  # level 7 is refused, the rest is listed
    assert [(n["district_key"], n["name"], n["hazard_name"]) for n in part["items"]] == [
        ("d-1", "避難指示", "洪水")
    ]


@sqlite_only
def test_categories_are_the_core_registry(app):
    desk = Desk(app, "river_feed")
    with app.app_context():
        assert "fire" in desk.categories.codes() and desk.categories.label("fire", "ja") == "火災"


@sqlite_only
def test_hook_dai_desk_part(app, register_plugin):
    """A plugin may provide a part of the facade instead of the app (the first answer wins)."""
    seen = []

    class OwnIncidents:
        def get(self, session, incident_id):
            seen.append(incident_id)
            return IncidentInfo(incident_id, "fire", "confirmed", now(), description="elsewhere")

    class Provider:
        @hookimpl
        def dai_desk_part(self, name):
            return OwnIncidents() if name == "incidents" else None

    register_plugin(Provider(), name="own_incidents")
    desk = Desk(app, "river_feed")
    assert desk.incidents.get(7).description == "elsewhere" and seen == [7]
    assert desk.disasters.current() is None  # the other parts still come from the apps
