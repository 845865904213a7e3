"""Users, passwords, API tokens, login rate limiting and permission checks."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session, object_session
from werkzeug.security import check_password_hash, generate_password_hash

from disaster_ai.errors import ApiError
from disaster_ai.storage.base import now
from disaster_ai.storage.models import ApiToken, LoginAttempt, LoginThrottle, User, WebSession
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


class UserChangeRefused(Exception):
    """A change of a user that would lock the desk out: ``code`` is ``self`` (an admin
    deactivating or demoting themself) or ``last_admin`` (no active admin would be left)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def change_user(session: Session, user: User, by_user_id: int | None, changes: dict) -> dict:
    """Apply ``changes`` (``display_name``, ``role``, ``locale``, ``active``) to ``user`` as
    the admin ``by_user_id``; returns what really changed. Refused (UserChangeRefused): an admin
    deactivating or demoting themself, or a change that leaves no active admin. A deactivated
    user's desk sessions end at once; their API tokens stop working while they are inactive
    (``user_for_token``), and logging in is refused (``authenticate``)."""
    changed = {k: v for k, v in changes.items() if v is not None and getattr(user, k) != v}
    loses_admin = (
        user.role == "admin"
        and user.active
        and (changed.get("active") is False or changed.get("role", "admin") != "admin")
    )
    if loses_admin:
        if by_user_id is not None and user.id == by_user_id:
            raise UserChangeRefused("self")
        others = session.scalar(
            select(func.count(User.id)).where(
                User.role == "admin", User.active.is_(True), User.id != user.id
            )
        )
        if not others:
            raise UserChangeRefused("last_admin")
    if "role" in changed and changed["role"] not in ROLES:
        raise ValueError(changed["role"])
    for field, value in changed.items():
        setattr(user, field, value)
    if changed.get("active") is False:
        end_all_sessions(session, user.id)
    session.flush()
    return changed


def set_password(user: User, password: str) -> None:
    """Change a password; every desk session of the user ends (on the server, at once)."""
    user.password_hash = generate_password_hash(password)
    session = object_session(user)
    if session is not None:
        end_all_sessions(session, user.id)


# --- desk sessions -------------------------------------------------------------------------
# The signed cookie alone is not trusted: it carries a random session id whose sha256 must be
# a row of web_sessions. Logout deletes the row; a password change deletes the user's rows.


def start_session(session: Session, user: User) -> str:
    """Record a new desk session; returns the id to put in the cookie."""
    sid = secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=hash_token(sid), user_id=user.id))
    session.flush()
    return sid


def session_is_valid(session: Session, sid: str | None, user_id: int) -> bool:
    if not sid or not isinstance(sid, str):
        return False
    row = session.get(WebSession, hash_token(sid))
    if row is None or row.user_id != user_id:
        return False
    lifetime = current_app.permanent_session_lifetime
    return row.created_at > now() - lifetime


def end_session(session: Session, sid: str | None) -> None:
    if sid and isinstance(sid, str):
        session.execute(delete(WebSession).where(WebSession.id_hash == hash_token(sid)))


def end_all_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


def prune_sessions(session: Session, lifetime: timedelta) -> int:
    """Delete desk sessions older than ``lifetime`` (they no longer open anything)."""
    result = session.execute(delete(WebSession).where(WebSession.created_at < now() - lifetime))
    return result.rowcount or 0


# --- login with rate limiting --------------------------------------------------------------
#
# Before a password is checked, one failure is *reserved* on three counters at once, each with
# a conditional UPDATE that only succeeds below its limit (atomic on SQLite and PostgreSQL, so
# parallel attempts can never check more passwords than the limit):
#   pair:<address>|<name>  LOGIN_MAX_FAILURES           guessing one name from one address
#   name:<name>            LOGIN_MAX_FAILURES_PER_NAME  guessing one name from many addresses
#   addr:<address>         LOGIN_MAX_FAILURES_PER_IP    trying many names from one address
# A correct password gives the reservation back (and clears the name's own counters), so a
# desk behind one NAT address is never locked out by one colleague's typos. A counter's window
# is LOGIN_LOCKOUT_SECONDS from its first failure; a full counter refuses until it ends.


def authenticate(session: Session, username: str, password: str, remote_addr: str) -> User:
    """Check a login; every attempt is recorded in login_attempts, and the limits above lock
    the name, the pair or the address across all processes (the counters live in the database)."""
    config = current_app.config
    username, remote_addr = username[:64], (remote_addr or "")[:64]
    keys = _throttle_keys(config, username, remote_addr)
    retry_after = _reserve(keys, int(config["LOGIN_LOCKOUT_SECONDS"]))
    if retry_after is not None:
        raise AuthError("too_many_attempts", retry_after=retry_after)
    user = session.scalar(select(User).where(User.username == username))
    ok = bool(user and user.active and check_password_hash(user.password_hash, password or ""))
    if ok:
        _release(keys)
    session.add(LoginAttempt(username=username, remote_addr=remote_addr, success=ok))
    session.commit()
    if not ok:
        raise AuthError("bad_credentials")
    return user


def _throttle_keys(config, username: str, remote_addr: str) -> list[tuple[str, int]]:
    return [
        (f"pair:{remote_addr}|{username}", int(config["LOGIN_MAX_FAILURES"])),
        (f"name:{username}", int(config["LOGIN_MAX_FAILURES_PER_NAME"])),
        (f"addr:{remote_addr}", int(config["LOGIN_MAX_FAILURES_PER_IP"])),
    ]


def _reserve(keys: list[tuple[str, int]], window_seconds: int) -> int | None:
    """Take one failure on every counter, all or none; None when taken, else the seconds until
    the first full counter's window ends."""
    from disaster_ai.storage import get_storage

    engine = get_storage().engine
    table = LoginThrottle.__table__
    moment = now()
    cutoff = moment - timedelta(seconds=window_seconds)
    moment_value = literal(moment, type_=table.c.window_start.type)
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            for key, limit in keys:
                connection.execute(
                    _insert_ignore(connection, table).values(
                        key=key, failures=0, window_start=moment
                    )
                )
                expired = table.c.window_start < cutoff
                taken = connection.execute(
                    update(table)
                    .where(table.c.key == key, or_(expired, table.c.failures < limit))
                    .values(
                        failures=case((expired, 1), else_=table.c.failures + 1),
                        window_start=case((expired, moment_value), else_=table.c.window_start),
                    )
                ).rowcount
                if taken != 1:
                    transaction.rollback()
                    started = connection.scalar(
                        select(table.c.window_start).where(table.c.key == key)
                    )
                    ends = (started or moment) + timedelta(seconds=window_seconds)
                    return max(1, int((ends - moment).total_seconds()))
            transaction.commit()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
    return None


def _release(keys: list[tuple[str, int]]) -> None:
    """A correct password: clear the pair's and the name's counters, give the address back the
    one failure that was reserved."""
    from disaster_ai.storage import get_storage

    table = LoginThrottle.__table__
    (pair, _), (name, _), (addr, _) = keys
    with get_storage().engine.begin() as connection:  # one row at a time, in _reserve's order
        for key in (pair, name):
            connection.execute(update(table).where(table.c.key == key).values(failures=0))
        connection.execute(
            update(table)
            .where(table.c.key == addr, table.c.failures > 0)
            .values(failures=table.c.failures - 1)
        )


def _insert_ignore(connection, table):
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing(index_elements=["key"])


def prune_login_throttle(session: Session, window_seconds: int) -> int:
    """Delete counters whose window ended (they would start afresh anyway)."""
    table = LoginThrottle.__table__
    cutoff = now() - timedelta(seconds=window_seconds)
    return session.execute(delete(table).where(table.c.window_start < cutoff)).rowcount or 0


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


TOKEN_USE_RESOLUTION = timedelta(minutes=1)  # how exactly ApiToken.last_used_at is kept


def user_for_token(session: Session, plain: str) -> User | None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    moment = now()
    last = token.last_used_at
    if last is None or last.tzinfo is None or moment - last >= TOKEN_USE_RESOLUTION:
        # one write a minute per token, not one per request: busy scripts and the desk's live
        # pages would otherwise turn every read into a write (and contend for the database)
        token.last_used_at = moment
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
