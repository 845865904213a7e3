"""The core error handler: the one JSON error format under /api/, an error page elsewhere.
Bad input never becomes a 500; an unexpected error is logged with its request id."""

from __future__ import annotations

import logging

from flask import g, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from disaster_ai.api.framework import error_response, http_exception_as_api_error
from disaster_ai.errors import ApiError

log = logging.getLogger("disaster_ai.errors")


def handle(request, exception):
    if isinstance(exception, HTTPException):
        exception = http_exception_as_api_error(exception)
    if not isinstance(exception, ApiError):
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exception)
        exception = ApiError(
            500,
            "internal_error",
            _(
                "Something went wrong on the server. Your input was kept; quote request id %(rid)s.",
                rid=g.get("request_id", ""),
            ),
        )
    if (
        request.path.startswith("/api/")
        or request.path == "/healthz"
        or request.accept_mimetypes.best == "application/json"
    ):
        return error_response(exception)
    return render_template("error.html", error=exception), exception.status
