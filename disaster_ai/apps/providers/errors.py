"""The core error handler: the one JSON error format under /api/, an error page elsewhere.
Bad input never becomes a 500; an unexpected error is logged with its request id."""

from __future__ import annotations

import errno
import logging

from flask import current_app, g, render_template
from flask_babel import gettext as _
from jinja2 import Environment
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from disaster_ai.api.framework import error_response, http_exception_as_api_error
from disaster_ai.errors import ApiError

log = logging.getLogger("disaster_ai.errors")


PLAIN_PAGE = """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{{ error.details.get('retry_after', 30) }}">
<title>{{ error.status }}</title></head><body><main role="alert"><h1>{{ error.message }}</h1>
<p>{{ again }}</p></main></body></html>"""

# Not Flask's environment: its context processors read the user from the database.
_PLAIN = Environment(autoescape=True)

# How long a client waits before trying again after the database or the disk failed.
RETRY_AFTER_SECONDS = 5


def _database_unavailable(exception: BaseException) -> bool:
    """The database cannot be reached right now (restarting, down, connection dropped): not a
    bug in the request, and nothing was saved."""
    if isinstance(exception, DisconnectionError | InterfaceError):
        return True
    if isinstance(exception, OperationalError):
        return True  # PostgreSQL down or restarting, SQLite locked beyond its timeout
    return isinstance(exception, DBAPIError) and bool(exception.connection_invalidated)


def _disk_full(exception: BaseException) -> bool:
    while exception is not None:
        if isinstance(exception, OSError) and exception.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exception = exception.__cause__ or exception.__context__
    return False


def degraded_error(exception: BaseException) -> ApiError | None:
    """The ApiError for a failure of the server's own resources (database, disk), or None."""
    if _database_unavailable(exception):
        log.warning("database unavailable on %s", exception.__class__.__name__)
        return ApiError(
            503,
            "database_unavailable",
            _(
                "The desk cannot reach its database just now. What you sent was NOT saved: "
                "keep it and send it again in a few seconds."
            ),
            {"retry_after": RETRY_AFTER_SECONDS},
        )
    if _disk_full(exception):
        log.error("the server's disk is full")
        return ApiError(
            507,
            "storage_full",
            _(
                "The server's disk is full. What you sent was NOT saved: keep it and tell the "
                "system administrator."
            ),
            {"retry_after": RETRY_AFTER_SECONDS},
        )
    return None


def _page_lang() -> str:
    try:
        from flask_babel import get_locale

        return str(get_locale() or "ja")
    except Exception:
        return "ja"


def handle(request, exception):
    if isinstance(exception, HTTPException):
        exception = http_exception_as_api_error(exception)
    if not isinstance(exception, ApiError):
        exception = degraded_error(exception) or exception
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
        response = error_response(exception)
    else:
        try:
            page = render_template("error.html", error=exception)
        except Exception:  # the desk's frame needs the database: a plain page, still in Japanese
            log.warning("error page rendered without the desk frame", exc_info=True)
            page = _PLAIN.from_string(PLAIN_PAGE).render(
                error=exception, lang=_page_lang(), again=_("This page tries again by itself.")
            )
        response = current_app.make_response((page, exception.status))
    if exception.status in (503, 507) and exception.details.get("retry_after"):
        response.headers["Retry-After"] = str(exception.details["retry_after"])
    return response
