"""Desk pages. Thin views: parse, check permission, call the service, render."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from disaster_ai import audit
from disaster_ai.auth import (
    AuthError,
    UserChangeRefused,
    actor_for,
    authenticate,
    change_user,
    create_user,
    current_actor,
    end_session,
    requires,
    set_password,
    start_session,
    validate_new_user,
)
from disaster_ai.plugins import safe_collect
from disaster_ai.security import parse_db_int
from disaster_ai.storage.base import JST
from disaster_ai.storage.engine import db
from disaster_ai.storage.models import User
from disaster_ai.web import audit_labels
from disaster_ai.web.forms import (
    LoginForm,
    PasswordResetForm,
    UserActiveForm,
    UserEditForm,
    UserForm,
)

log = logging.getLogger(__name__)

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/desk",
)

USER_PROBLEMS = {
    "invalid_username": _l("Use letters, digits, '.', '-' or '_' (64 at most)."),
    "username_taken": _l("This user name is already taken."),
    "invalid_role": _l("Choose a role."),
    "password_too_short": _l("The password is too short."),
}
USER_REFUSALS = {
    "self": _l("You cannot demote or deactivate yourself: ask another administrator."),
    "last_admin": _l(
        "The desk needs at least one active administrator: make another user an administrator first."
    ),
}


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = authenticate(
                db(), form.username.data.strip(), form.password.data, request.remote_addr or ""
            )
        except AuthError as exc:
            status = 429 if exc.code == "too_many_attempts" else 401
            form.password.errors.append(
                _(
                    "Too many failed attempts. Try again in %(minutes)s minutes.",
                    minutes=max(1, -(-(exc.retry_after or 60) // 60)),  # rounded up
                )
                if status == 429
                else _("The user name or password is wrong.")
            )
            audit.record(
                "auth.login_failed",
                target=f"user:{form.username.data.strip()[:64]}",
                detail={"reason": exc.code, "remote_addr": request.remote_addr},
            )
        else:
            chosen_language = session.get("lang")
            session.clear()  # a fresh session on login: nothing from before survives but the language
            if chosen_language:
                session["lang"] = chosen_language
            session["user_id"], session["pw"] = user.id, user.password_hash[-12:]
            session["sid"] = start_session(db(), user)
            db().commit()
            g.actor = actor_for(user)
            audit.record("auth.login", target=f"user:{user.username}")
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


def _safe_next(target: str | None) -> str:
    # Only local paths: never redirect a desk operator to another host after login.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("web.dashboard")


@bp.post("/logout")
def logout():
    actor = g.get("actor")
    end_session(db(), session.get("sid"))  # the old cookie opens nothing from now on
    if actor is not None:
        audit.record("auth.logout", target=f"user:{actor.username}", session=db())
    db().commit()
    session.clear()
    return redirect(url_for("web.login"))


@bp.get("/lang/<code>")
def switch_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))


@bp.get("/")
@requires("desk.view")
def dashboard():
    from disaster_ai.web import levels

    return render_template(
        "dashboard.html",
        feed=dashboard_feed_data(None),
        feed_seconds=FEED_POLL_SECONDS,
        level_legend=levels.legend(),
    )


# --- dashboard: every panel comes from the apps and plugins (dai_dashboard_panels); the core only
# draws what the hook returns, so a disabled app shows no panel ---

FEED_POLL_SECONDS = 5
RESERVED_KEYS = ("panels", "since_id", "generated_at")  # the feed's own keys


def dashboard_panels(since_id: int | None) -> list:
    """The current user's panels, the first of each key in the hook order, sorted by order."""
    from disaster_ai.types import DashboardPanel

    pm = current_app.extensions["disaster_ai"]
    found = safe_collect(pm, "dai_dashboard_panels", actor=current_actor(), since_id=since_id)
    chosen, seen = [], set()
    for panel in found:  # pluggy's order: the first panel of a key wins
        if not isinstance(panel, DashboardPanel) or panel.key in seen:
            continue
        if panel.key in RESERVED_KEYS:
            log.error("dashboard panel %r refused: the key is reserved", panel.key)
            continue
        seen.add(panel.key)
        chosen.append(panel)
    return sorted(chosen, key=lambda panel: panel.order)


def dashboard_feed_data(since_id: int | None) -> dict:
    """Every panel for the current user: its data under its key, and in ``panels`` (by order)
    its key, title, body (``html``, from its template) and live script. ``since_id``: the
    highest ``last_id`` a panel gave (what the next poll asks to be newer than)."""
    from disaster_ai.storage.base import now

    data: dict = {}
    listed = []
    newest = [since_id] if since_id is not None else []
    for panel in dashboard_panels(since_id):
        body = dict(panel.data)
        try:
            html = render_template(
                panel.template or "dashboard_panel.html", panel=body, key=panel.key
            )
        except Exception:  # a panel that cannot be drawn is left out, the others still show
            log.exception("dashboard panel %r could not be drawn; skipped", panel.key)
            continue
        data[panel.key] = body
        listed.append(
            {
                "key": panel.key,
                "title": str(panel.title),
                "order": panel.order,
                "html": html,
                "script": panel.script or "",
            }
        )
        if isinstance(body.get("last_id"), int):
            newest.append(body["last_id"])
    data["panels"] = listed
    data["since_id"] = max(newest) if newest else None
    data["generated_at"] = now().replace(microsecond=0).isoformat()
    return data


@bp.get("/dashboard/feed.json")
@requires("desk.view")
def dashboard_feed():
    """The dashboard's live panels (``dai_dashboard_panels``), as ``dashboard_feed_data``:
    each panel's data under its key (the incident feed sends only incidents recorded after
    ``since_id``) and ``panels`` with each body drawn again. A panel whose app is disabled, or
    that the user may not see, is not there."""
    since_id = parse_db_int(request.args.get("since_id"))
    return jsonify(dashboard_feed_data(since_id))


@bp.get("/map/layers.json")
@requires("desk.view")
def map_layers():
    pm = current_app.extensions["disaster_ai"]
    layers = safe_collect(pm, "dai_map_layers", bbox=None)
    return jsonify(
        {
            "layers": [
                {
                    "id": layer.id,
                    "title": layer.title,
                    "geojson": layer.geojson,
                    "style": layer.style,
                }
                for layer in layers
            ]
        }
    )


# --- admin ---------------------------------------------------------------------------------


@bp.route("/admin/users", methods=["GET", "POST"])
@requires("admin.users")
def admin_users():
    form = UserForm()
    status = 200
    if form.validate_on_submit():
        session_db = db()
        problems = validate_new_user(
            session_db, form.username.data.strip(), form.role.data, form.password.data
        )
        for field, code in problems.items():
            getattr(form, field).errors.append(str(USER_PROBLEMS[code]))
        if not problems:
            user = create_user(
                session_db,
                form.username.data.strip(),
                form.role.data,
                form.password.data,
                form.display_name.data.strip(),
                form.locale.data,
            )
            audit.record(
                "user.create",
                target=f"user:{user.username}",
                detail={"role": user.role},
                session=session_db,
            )
            session_db.commit()
            flash(_("User %(name)s was created.", name=user.username), "success")
            return redirect(url_for("web.admin_users"))
        status = 422
    elif request.method == "POST":
        status = 400
    users = db().query(User).order_by(User.id).all()
    return render_template("admin_users.html", form=form, users=users), status


def _user_or_404(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        from flask import abort

        abort(404)
    return user


def _user_page(
    user: User, edit=None, active=None, password=None, status: int = 200, active_error=None
):
    edit = edit or UserEditForm(
        formdata=None, display_name=user.display_name, role=user.role, locale=user.locale
    )
    return render_template(
        "admin_user.html",
        user=user,
        edit_form=edit,
        active_form=active or UserActiveForm(formdata=None),
        password_form=password or PasswordResetForm(formdata=None),
        is_self=user.id == current_actor().id,
        active_error=active_error,
    ), status


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@requires("admin.users")
def admin_user(user_id: int):
    """One user: change the display name, role and language."""
    user = _user_or_404(user_id)
    if request.method == "GET":
        return _user_page(user)
    form = UserEditForm()
    if not form.validate_on_submit():
        return _user_page(user, edit=form, status=400 if form.csrf_token.errors else 422)
    session_db = db()
    changes = {
        "display_name": (form.display_name.data or "").strip() or user.username,
        "role": form.role.data,
        "locale": form.locale.data,
    }
    try:
        changed = change_user(session_db, user, current_actor().id, changes)
    except UserChangeRefused as refused:
        session_db.rollback()
        form.role.errors = [str(USER_REFUSALS[refused.code])]
        return _user_page(user, edit=form, status=409)
    if changed:
        audit.record(
            "user.update", target=f"user:{user.username}", detail=changed, session=session_db
        )
    session_db.commit()
    flash(_("User %(name)s was saved.", name=user.username), "success")
    return redirect(url_for("web.admin_user", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/active")
@requires("admin.users")
def admin_user_active(user_id: int):
    """Deactivate (``active=0``) or reactivate (``active=1``) a user."""
    user = _user_or_404(user_id)
    form = UserActiveForm()
    if not form.validate_on_submit():
        return _user_page(user, active=form, status=400)
    want = request.form.get("active") == "1"
    session_db = db()
    try:
        changed = change_user(session_db, user, current_actor().id, {"active": want})
    except UserChangeRefused as refused:
        session_db.rollback()
        return _user_page(user, status=409, active_error=str(USER_REFUSALS[refused.code]))
    if changed:
        audit.record(
            "user.reactivate" if want else "user.deactivate",
            target=f"user:{user.username}",
            session=session_db,
        )
    session_db.commit()
    if want:
        flash(_("User %(name)s can log in again.", name=user.username), "success")
    else:
        flash(
            _(
                "User %(name)s is deactivated: logged out everywhere, and their API tokens no "
                "longer work.",
                name=user.username,
            ),
            "success",
        )
    return redirect(url_for("web.admin_user", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/password")
@requires("admin.users")
def admin_user_password(user_id: int):
    """Set a new password for a user (they are logged out everywhere)."""
    user = _user_or_404(user_id)
    form = PasswordResetForm()
    if not form.validate_on_submit():
        return _user_page(user, password=form, status=400 if form.csrf_token.errors else 422)
    if len(form.password.data) < current_app.config["MIN_PASSWORD_LENGTH"]:
        form.password.errors.append(str(USER_PROBLEMS["password_too_short"]))
        return _user_page(user, password=form, status=422)
    if form.password.data != form.confirm.data:
        form.confirm.errors.append(_("The two passwords differ."))
        return _user_page(user, password=form, status=422)
    session_db = db()
    set_password(user, form.password.data)
    audit.record("user.password_reset", target=f"user:{user.username}", session=session_db)
    session_db.commit()
    flash(
        _(
            "The password of %(name)s was changed: give it to them in person. Their sessions "
            "have ended.",
            name=user.username,
        ),
        "success",
    )
    return redirect(url_for("web.admin_user", user_id=user.id))


@bp.get("/admin/audit")
@requires("admin.audit")
def admin_audit():
    filters = {key: request.args.get(key, "").strip() or None for key in ("action", "app", "actor")}
    day = request.args.get("day", "").strip()
    since = until = None
    error = None
    if day:
        try:
            from datetime import timedelta

            from disaster_ai.web.times import parse_local_date

            parsed = parse_local_date(day)
            if parsed is None:
                raise ValueError(day)
            since = datetime(parsed.year, parsed.month, parsed.day, tzinfo=JST)

            until = since + timedelta(days=1)
        except ValueError:
            error = _("Write the day like 2026年9月23日 or 2026/9/23.")
    events = audit.query_events(db(), since=since, until=until, limit=500, **filters)
    return render_template(
        "admin_audit.html",
        events=events,
        filters=filters,
        day=day,
        error=error,
        action_labels=audit_labels.action_labels(),
        app_labels=audit_labels.app_labels(),
        label=audit_labels.label,
    )


@bp.get("/admin/usage")
@requires("admin.audit")
def admin_usage():
    return render_template(
        "admin_usage.html",
        usage=audit.usage_per_app_per_day(db(), 30),
        app_labels=audit_labels.app_labels(),
        label=audit_labels.label,
    )


@bp.get("/-/plugins")
@requires("admin.plugins")
def plugins_page():
    pm = current_app.extensions["disaster_ai"]
    return render_template("plugins.html", plugins=pm.describe())


# --- operations ----------------------------------------------------------------------------


@bp.get("/healthz")
def healthz():
    """For monitoring: 200 when every critical check passes, else 503. No login needed."""
    pm = current_app.extensions["disaster_ai"]
    app = current_app._get_current_object()
    checks = safe_collect(pm, "dai_health_checks", app=app)
    healthy = all(check.ok for check in checks if check.critical)
    body = {
        "status": "ok" if healthy else "degraded",
        "checks": {
            c.name: {"ok": c.ok, "detail": c.detail, "critical": c.critical} for c in checks
        },
    }
    return jsonify(body), 200 if healthy else 503
