"""Fixtures for the notices tests: Yaizu loaded once per test app, a second approver, and
helpers to open shelters."""

from __future__ import annotations

import pytest

from disaster_ai.storage import get_storage, session_scope


@pytest.fixture
def approver2(app, users):
    from disaster_ai.auth import create_user

    with app.app_context(), session_scope(get_storage(app)) as session:
        create_user(session, "approver2", "approver", "approver2-pass-123")
    return "approver2"


@pytest.fixture
def token_for(app):
    from sqlalchemy import select

    from disaster_ai.auth import issue_token
    from disaster_ai.storage.models import User

    def headers(username: str) -> dict:
        with app.app_context(), session_scope(get_storage(app)) as session:
            user = session.scalar(select(User).where(User.username == username))
            _, plain = issue_token(session, user, "test")
        return {"Authorization": f"Bearer {plain}"}

    return headers


@pytest.fixture
def open_shelters(app):
    """``open_shelters(keys)`` marks those shelters open (ShelterStatus.is_open)."""
    from disaster_ai.apps.situation.models import ShelterStatus

    def do(keys):
        with app.app_context(), session_scope(get_storage(app)) as session:
            for key in keys:
                row = session.get(ShelterStatus, key) or ShelterStatus(shelter_key=key)
                row.is_open = True
                session.add(row)

    return do


@pytest.fixture
def shelters_open(app, yaizu, open_shelters):
    """Every shelter of the loaded layer open: notices that name shelters can be issued without
    the approver's confirmation (tests that are not about the unopened-shelter rule)."""
    from disaster_ai.apps.situation import layers as layer_store

    with app.app_context(), session_scope(get_storage(app)) as session:
        keys = [str(k) for k in layer_store.load_layer(session, "shelters")["key"]]
    open_shelters(keys)
    return keys
