"""Users, passwords, API tokens, login rate limiting and permission checks."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from disaster_ai.errors import ApiError
from disaster_ai.storage.base import now
from disaster_ai.storage.models import ApiToken, LoginAttempt, User
from disaster_ai.types import ROLES, Actor, PermissionSpec

TOKEN_PREFIX = "dai_"


class AuthError(Exception):
    """A login that cannot go ahead; ``code`` names the reason for the UI and the API."""

    def __init__(self, code: str, retry_after: int | None = None):
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


def actor_for(user: User, via: str = "session") -> Actor:
    return Actor(user.id, user.username, frozenset({user.role}), user.locale, via)


# --- users ---------------------------------------------------------------------------------


def validate_new_user(session: Session, username: str, role: str, password: str) -> dict:
    """Return {field: message code} for everything wrong with a new user; empty when fine."""
    problems = {}
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "").replace("-", "").replace(".", "").isalnum()
    ):
        problems["username"] = "invalid_username"
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        problems["username"] = "username_taken"
    if role not in ROLES:
        problems["role"] = "invalid_role"
    if len(password or "") < current_app.config["MIN_PASSWORD_LENGTH"]:
        problems["password"] = "password_too_short"
    return problems


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    display_name: str = "",
    locale: str = "ja",
) -> User:
    user = User(
        username=username,
        role=role,
        display_name=display_name or username,
        password_hash=generate_password_hash(password),
        locale=locale,
    )
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    user.password_hash = generate_password_hash(password)


# --- login with rate limiting --------------------------------------------------------------


def authenticate(session: Session, username: str, password: str, remote_addr: str) -> User:
    """Check a login; every attempt is recorded, and too many failures lock the name (and the
    address) for LOGIN_LOCKOUT_SECONDS, across all processes since it lives in the database."""
    config = current_app.config
    window_start = now() - timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"])
    failures_for_name = _failures(session, LoginAttempt.username == username, window_start)
    failures_from_addr = _failures(session, LoginAttempt.remote_addr == remote_addr, window_start)
    if (
        failures_for_name >= config["LOGIN_MAX_FAILURES"]
        or failures_from_addr >= config["LOGIN_MAX_FAILURES_PER_IP"]
    ):
        raise AuthError("too_many_attempts", retry_after=config["LOGIN_LOCKOUT_SECONDS"])
    user = session.scalar(select(User).where(User.username == username))
    ok = bool(user and user.active and check_password_hash(user.password_hash, password or ""))
    session.add(LoginAttempt(username=username[:64], remote_addr=remote_addr[:64], success=ok))
    session.commit()
    if not ok:
        raise AuthError("bad_credentials")
    return user


def _failures(session: Session, condition, since) -> int:
    query = select(func.count(LoginAttempt.id)).where(
        condition, LoginAttempt.success.is_(False), LoginAttempt.at >= since
    )
    return session.scalar(query) or 0


# --- API tokens ----------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; the plain value is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(plain), prefix=plain[:10])
    session.add(token)
    session.flush()
    return token, plain


def user_for_token(session: Session, plain: str) -> User | None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    token.last_used_at = now()
    session.commit()
    return token.user


# --- permissions ---------------------------------------------------------------------------


def collect_permissions(pm) -> dict[str, PermissionSpec]:
    from disaster_ai.plugins import safe_collect

    return {spec.action: spec for spec in safe_collect(pm, "dai_register_permissions")}


def is_allowed(actor: Actor | None, action: str, resource=None) -> bool:
    if actor is None:
        return False
    pm = current_app.extensions["disaster_ai"]
    return bool(pm.hook.dai_permission_allowed(actor=actor, action=action, resource=resource))


def current_actor() -> Actor | None:
    if "actor" not in g:
        pm = current_app.extensions["disaster_ai"]
        g.actor = pm.hook.dai_actor_from_request(request=request)
    return g.actor


def requires(action: str):
    """Decorate a view: 401/login redirect without an actor, 403 without the permission."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            actor = current_actor()
            is_api = request.path.startswith("/api/")
            if actor is None:
                if is_api:
                    raise ApiError(401, "unauthenticated", _("Log in or send an API token."))
                return redirect(url_for("web.login", next=request.full_path))
            if not is_allowed(actor, action):
                raise ApiError(
                    403, "forbidden", _("Your role may not do this (%(action)s).", action=action)
                )
            return view(*args, **kwargs)

        wrapped.required_action = action
        return wrapped

    return decorator
