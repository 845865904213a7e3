"""Notices in force for other apps (the bulletins read them through ``dai_notices_in_force``):
the issued notices not cancelled or superseded, one entry per district."""

from __future__ import annotations


def notices_in_force(at) -> list[dict]:
    from flask import current_app

    from disaster_ai.apps.notices import service
    from disaster_ai.storage import get_storage, session_scope

    with session_scope(get_storage(current_app)) as session:
        return service.in_force_entries(session, at)
