"""Who is calling: a session login, or an ``Authorization: Bearer`` API token."""

from __future__ import annotations

from flask import session as web_session

from disaster_ai.auth import actor_for, session_is_valid, user_for_token
from disaster_ai.storage.engine import db
from disaster_ai.storage.models import User


def actor_from_request(request):
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_for_token(db(), header[len("Bearer ") :].strip())
        return actor_for(user, via="token") if user else None
    user_id = web_session.get("user_id")
    if user_id is None:
        return None
    session = db()
    user = session.get(User, user_id)
    if user is None or not user.active or web_session.get("pw") != user.password_hash[-12:]:
        return None  # deactivated, deleted, or the password changed since login
    if not session_is_valid(session, web_session.get("sid"), user.id):
        return None  # logged out (or ended by a password change): the cookie alone is not enough
    return actor_for(user, via="session")
