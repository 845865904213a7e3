"""Core endpoints: who am I, API tokens, users, jobs, audit, usage, plugins, municipality."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint, current_app, jsonify, render_template
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from disaster_ai import audit
from disaster_ai.api.framework import api_doc, build_openapi, parse_body, parse_query
from disaster_ai.auth import (
    UserChangeRefused,
    change_user,
    create_user,
    current_actor,
    issue_token,
    requires,
    validate_new_user,
)
from disaster_ai.errors import ApiError
from disaster_ai.jobs import job_to_dict
from disaster_ai.storage.base import now
from disaster_ai.storage.engine import db
from disaster_ai.storage.models import ApiToken, Job, User

bp = Blueprint("api_core", __name__, url_prefix="/api/v1")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TokenIn(Strict):
    name: str = Field(
        min_length=1, max_length=64, description="What the token is for, e.g. 'shelter tablet'"
    )


class UserIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    role: Literal["operator", "approver", "admin"]
    password: str = Field(min_length=1, max_length=256)
    display_name: str = Field(default="", max_length=128)
    locale: Literal["ja", "en"] = "ja"


class UserPatch(Strict):
    role: Literal["operator", "approver", "admin"] | None = None
    active: bool | None = None
    locale: Literal["ja", "en"] | None = None
    display_name: str | None = Field(default=None, max_length=128)


class JobQuery(Strict):
    state: Literal["queued", "running", "succeeded", "failed"] | None = None
    kind: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)


class AuditQuery(Strict):
    action: str | None = Field(default=None, max_length=64)
    app: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=64)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class UsageQuery(Strict):
    days: int = Field(default=30, ge=1, le=366)


def _user_dict(user: User) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "locale": user.locale,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
    }


def _get_or_404(model, ident, what: str):
    row = db().get(model, ident)
    if row is None:
        raise ApiError(404, "not_found", _("No %(what)s with id %(id)s.", what=what, id=ident))
    return row


# --- identity and tokens -------------------------------------------------------------------


@bp.get("/me")
@requires("desk.view")
def me():
    """The current user."""
    actor = current_actor()
    return jsonify(
        {
            "username": actor.username,
            "roles": sorted(actor.roles),
            "locale": actor.locale,
            "via": actor.via,
        }
    )


@bp.get("/tokens")
@requires("tokens.manage")
def list_tokens():
    """Your API tokens (never their values)."""
    tokens = db().scalars(
        select(ApiToken).where(ApiToken.user_id == current_actor().id).order_by(ApiToken.id)
    )
    return jsonify(
        {
            "tokens": [
                {
                    "id": t.id,
                    "name": t.name,
                    "prefix": t.prefix,
                    "created_at": t.created_at.isoformat(),
                    "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                    "revoked": t.revoked_at is not None,
                }
                for t in tokens
            ]
        }
    )


@bp.post("/tokens")
@requires("tokens.manage")
@api_doc(body=TokenIn, responses={201: "The token; its value is shown only in this response"})
def create_token():
    """Create an API token for yourself."""
    data = parse_body(TokenIn)
    session = db()
    user = session.get(User, current_actor().id)
    token, plain = issue_token(session, user, data.name)
    audit.record(
        "token.create", target=f"token:{token.id}", detail={"name": data.name}, session=session
    )
    session.commit()
    return jsonify({"id": token.id, "name": token.name, "token": plain}), 201


@bp.delete("/tokens/<int:token_id>")
@requires("tokens.manage")
@api_doc(responses={200: "Revoked"})
def revoke_token(token_id: int):
    """Revoke one of your API tokens."""
    session = db()
    token = _get_or_404(ApiToken, token_id, _("token"))
    if token.user_id != current_actor().id:
        raise ApiError(
            404, "not_found", _("No %(what)s with id %(id)s.", what=_("token"), id=token_id)
        )
    if token.revoked_at is None:
        token.revoked_at = now()
        audit.record("token.revoke", target=f"token:{token.id}", session=session)
        session.commit()
    return jsonify({"id": token.id, "revoked": True})


# --- users (admin) -------------------------------------------------------------------------


@bp.get("/users")
@requires("admin.users")
def list_users():
    """All users."""
    return jsonify({"users": [_user_dict(u) for u in db().scalars(select(User).order_by(User.id))]})


@bp.post("/users")
@requires("admin.users")
@api_doc(body=UserIn, responses={201: "Created", 409: "The user name is taken"})
def add_user():
    """Create a user with a role."""
    data = parse_body(UserIn)
    session = db()
    problems = validate_new_user(session, data.username, data.role, data.password)
    if problems:
        status = 409 if problems.get("username") == "username_taken" else 422
        raise ApiError(
            status,
            "conflict" if status == 409 else "invalid",
            _("The user could not be created."),
            {"fields": problems},
        )
    user = create_user(
        session, data.username, data.role, data.password, data.display_name, data.locale
    )
    audit.record(
        "user.create", target=f"user:{user.username}", detail={"role": data.role}, session=session
    )
    session.commit()
    return jsonify(_user_dict(user)), 201


@bp.patch("/users/<int:user_id>")
@requires("admin.users")
@api_doc(
    body=UserPatch,
    responses={200: "OK", 409: "You cannot demote or deactivate yourself, nor the last admin"},
)
def update_user(user_id: int):
    """Change a user's role, language or active flag."""
    data = parse_body(UserPatch)
    session = db()
    user = _get_or_404(User, user_id, _("user"))
    try:
        changes = change_user(session, user, current_actor().id, data.model_dump())
    except UserChangeRefused as refused:
        if refused.code == "self":
            raise ApiError(
                409, "conflict", _("You cannot demote or deactivate yourself.")
            ) from None
        raise ApiError(
            409, "conflict", _("The desk needs at least one active administrator.")
        ) from None
    audit.record("user.update", target=f"user:{user.username}", detail=changes, session=session)
    session.commit()
    return jsonify(_user_dict(user))


# --- jobs ----------------------------------------------------------------------------------


@bp.get("/jobs")
@requires("jobs.view")
@api_doc(query=JobQuery)
def list_jobs():
    """Jobs, newest first, with state and progress."""
    q = parse_query(JobQuery)
    query = select(Job).order_by(Job.id.desc()).limit(q.limit)
    if q.state:
        query = query.where(Job.state == q.state)
    if q.kind:
        query = query.where(Job.kind == q.kind)
    return jsonify({"jobs": [job_to_dict(job) for job in db().scalars(query)]})


@bp.get("/jobs/<int:job_id>")
@requires("jobs.view")
def get_job(job_id: int):
    """One job."""
    return jsonify(job_to_dict(_get_or_404(Job, job_id, _("job"))))


@bp.post("/jobs/<int:job_id>/retry")
@requires("jobs.retry")
@api_doc(responses={200: "Queued again", 409: "The job has not failed"})
def retry_job(job_id: int):
    """Queue a failed job again."""
    from disaster_ai.jobs.service import runner_for

    session = db()
    job = _get_or_404(Job, job_id, _("job"))
    if job.state != "failed":
        raise ApiError(
            409,
            "conflict",
            _("Only a failed job can be retried (this one is %(state)s).", state=_(job.state)),
        )
    job.state, job.attempts, job.run_after, job.error, job.finished_at = (
        "queued",
        0,
        now(),
        None,
        None,
    )
    audit.record("job.retry", target=f"job:{job.id}", session=session)
    session.commit()
    runner_for(current_app).notify(job.id)
    return jsonify(job_to_dict(job))


# --- audit and usage (admin) ---------------------------------------------------------------


@bp.get("/audit")
@requires("admin.audit")
@api_doc(query=AuditQuery)
def list_audit():
    """The audit log, newest first, filterable."""
    q = parse_query(AuditQuery)
    for moment in (q.since, q.until):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(
                422, "invalid", _("Times need an offset, e.g. 2026-09-23T06:00:00+09:00.")
            )
    events = audit.query_events(
        db(),
        action=q.action,
        app=q.app,
        actor=q.actor,
        since=q.since,
        until=q.until,
        limit=q.limit,
        offset=q.offset,
    )
    return jsonify(
        {
            "events": [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "action": e.action,
                    "app": e.app,
                    "actor": e.actor_name,
                    "target": e.target,
                    "detail": e.detail,
                    "request_id": e.request_id,
                    "ai_engine": e.ai_engine,
                    "ai_model": e.ai_model,
                    "input_digest": e.input_digest,
                    "output": e.output,
                    "duration_ms": e.duration_ms,
                }
                for e in events
            ]
        }
    )


@bp.get("/usage")
@requires("admin.audit")
@api_doc(query=UsageQuery)
def usage():
    """Actions and AI calls per app per day (Japan time)."""
    q = parse_query(UsageQuery)
    return jsonify({"days": q.days, "usage": audit.usage_per_app_per_day(db(), q.days)})


@bp.get("/plugins")
@requires("admin.plugins")
def plugins():
    """Loaded, failed and blocked plugins with their hooks."""
    pm = current_app.extensions["disaster_ai"]
    return jsonify({"plugins": [info.__dict__ for info in pm.describe()]})


# --- municipality --------------------------------------------------------------------------


@bp.get("/municipality")
@requires("desk.view")
def municipality():
    """The municipality this desk serves (its profile: name, reading, English name, codes,
    prefecture, JMA area code), with its boundary as GeoJSON."""
    from disaster_ai.municipality.profile import current, missing_message, profile_dict

    row = current(db())
    if row is None:
        raise ApiError(404, "not_found", missing_message())
    return jsonify(
        {
            **profile_dict(row),
            "boundary": {
                "type": "Feature",
                "geometry": row.boundary,
                "properties": {"name": row.name},
            }
            if row.boundary
            else None,
        }
    )


# --- OpenAPI -------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI 3.1 document, generated from the routes."""
    return jsonify(build_openapi(current_app))


@bp.get("/docs")
def api_docs():
    """A readable page of the OpenAPI document (served locally, no CDN)."""
    return render_template("api_docs.html", spec=build_openapi(current_app))
