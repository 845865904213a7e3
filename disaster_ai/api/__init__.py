"""The JSON API under /api/v1/: the core endpoints, error handling and the OpenAPI document."""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import HTTPException

from disaster_ai.auth import current_actor
from disaster_ai.errors import ApiError
from disaster_ai.extensions import csrf


def register_api(app) -> None:
    from disaster_ai.api.core import bp
    from disaster_ai.api.search import bp as search_bp

    for blueprint in (bp, search_bp):
        app.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    app.before_request(_api_auth_and_csrf)
    app.register_error_handler(Exception, _handle_any_exception)


def _api_auth_and_csrf():
    if not request.path.startswith("/api/"):
        return
    actor = current_actor()
    if (
        actor is not None
        and actor.via == "session"
        and request.method not in {"GET", "HEAD", "OPTIONS"}
    ):
        # A browser session must prove the request came from our page; API tokens need not.
        csrf.protect()


def _handle_any_exception(exc: Exception):
    from flask import current_app

    if isinstance(exc, HTTPException) and exc.code and exc.code < 400:
        return exc
    pm = current_app.extensions["disaster_ai"]
    return pm.hook.dai_handle_exception(request=request, exception=exc)


__all__ = ["ApiError", "register_api"]
