"""Fixtures for the bulletin tests: an injectable clock, an event, live situation data on the
Yaizu layers, and a job runner that runs queued jobs to the end (retries included)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bulletin_helpers import T0, Clock, run_jobs

from disaster_ai.storage import get_storage, session_scope


@pytest.fixture(autouse=True)
def municipality_profile(request):
    """Bulletins say who issues them: every bulletin test runs with a municipality profile
    (the one a loaded kit sets, else a national-table entry), except those marked
    ``no_profile``."""
    if request.node.get_closest_marker("no_profile") or "app" not in request.fixturenames:
        return None
    app = request.getfixturevalue("app")
    from disaster_ai.municipality import profile, table

    with app.app_context(), session_scope(get_storage(app)) as session:
        if profile.current(session) is None:
            profile.set_from_entry(session, table.by_jis("22212"))
    return True


@pytest.fixture
def clock(app):
    c = Clock(T0)
    app.extensions["disaster_ai.bulletins.clock"] = c
    return c


@pytest.fixture
def event(app, clock):
    from disaster_ai.apps.bulletins import service

    return service.open_event(app, "令和8年台風第10号", hazard="inland_flood")


@pytest.fixture
def jobs(app):
    return lambda: run_jobs(app)


@pytest.fixture
def live(app, yaizu, clock):
    """Incidents and open shelters on the Yaizu layers, recorded before the event's first bulletin."""
    from disaster_ai.apps.situation.models import Incident, ShelterStatus

    with app.app_context(), session_scope(get_storage(app)) as session:
        for i in range(6):
            at = T0 - timedelta(minutes=10 * (i + 1))
            session.add(
                Incident(
                    category="road_flooding" if i % 2 else "inundation",
                    life_threat=i == 0,
                    people=3 if i == 0 else None,
                    vulnerable=i == 0,
                    status="confirmed",
                    occurred_at=at,
                    created_at=at,
                    lon=138.3205 + i * 0.0003,
                    lat=34.8655,
                    place_name="焼津駅前" if i == 0 else "",
                )
            )
        session.add(
            ShelterStatus(shelter_key="designated-1", is_open=True, occupancy=40, updated_at=T0)
        )
    return app
