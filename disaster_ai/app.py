"""The application factory: config layers → storage → plugins → blueprints → startup hooks."""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

from flask import Flask, g, request

from disaster_ai import config as config_module
from disaster_ai import security
from disaster_ai.auth import collect_permissions, current_actor
from disaster_ai.extensions import babel, csrf
from disaster_ai.i18n import select_locale
from disaster_ai.logging_setup import configure_logging
from disaster_ai.plugins import make_plugin_manager, run_startup_hooks, safe_collect
from disaster_ai.storage.engine import Storage, close_request_session, default_sqlite_url
from disaster_ai.storage.schema import load_models


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    app = Flask(
        "disaster_ai",
        instance_path=instance_path or config_module.instance_path_from_env(),
        instance_relative_config=True,
    )
    _load_config(app, test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _ensure_secret_key(app)
    configure_logging(app.config["LOG_LEVEL"])

    app.extensions["disaster_ai.storage"] = Storage(
        app.config["DATABASE_URL"], echo=app.config["DATABASE_ECHO"]
    )
    babel.init_app(app, locale_selector=select_locale, default_timezone="Asia/Tokyo")
    csrf.init_app(app)
    app.teardown_appcontext(close_request_session)

    pm = make_plugin_manager(app.config)
    app.extensions["disaster_ai"] = pm
    app.extensions["disaster_ai.storage"].plugin_manager = pm
    load_models(pm)  # every enabled app's tables on Base.metadata (dai_models)
    security.install_converters(app)  # before any route is registered
    security.init_app(app)
    _register_core_blueprints(app)
    run_startup_hooks(pm, app)
    app.extensions["disaster_ai.permissions"] = collect_permissions(pm)
    _register_plugin_blueprints(app, pm)
    app.before_request_funcs.setdefault(None, []).insert(0, _assign_request_id)
    app.after_request(_echo_request_id)
    return app


def _load_config(app: Flask, test_config: dict | None) -> None:
    app.config.from_object(config_module.DefaultConfig)
    config_module.load_instance_and_env(app)
    if test_config:
        app.config.update(test_config)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_sqlite_url(app.instance_path)
    if not app.config.get("PLUGINS_DIR"):
        app.config["PLUGINS_DIR"] = os.path.join(app.instance_path, "plugins")
    if os.environ.get("DISASTER_AI_TRACE_PLUGINS"):
        app.config["TRACE_PLUGINS"] = True


def _ensure_secret_key(app: Flask) -> None:
    """Secrets come only from the instance folder or the environment; generate one once."""
    if app.config.get("SECRET_KEY"):
        return
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def _register_core_blueprints(app: Flask) -> None:
    from disaster_ai.api import register_api
    from disaster_ai.web import register_web

    register_api(app)
    register_web(app)


def _register_plugin_blueprints(app: Flask, pm) -> None:
    for blueprint in safe_collect(pm, "dai_register_blueprints"):
        if blueprint.name in app.blueprints:
            continue
        app.register_blueprint(blueprint)
        if blueprint.url_prefix and blueprint.url_prefix.startswith("/api/"):
            csrf.exempt(blueprint)  # the API checks CSRF itself for cookie sessions


def _assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming[:64] if incoming.isprintable() and incoming else uuid.uuid4().hex
    if not request.path.startswith(("/static/", "/healthz")):
        current_actor()  # so every log line of this request names its user


def _echo_request_id(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    return response
