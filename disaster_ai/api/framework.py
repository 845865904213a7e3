"""What every JSON endpoint shares: body parsing with pydantic, the one error format, and the
OpenAPI document built from the routes themselves (their docstrings and declared models)."""

from __future__ import annotations

import inspect

from flask import current_app, request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from disaster_ai import __version__
from disaster_ai.errors import ApiError

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}


def api_doc(
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, str] | None = None,
    tag: str = "core",
):
    """Declare a view's request models and responses for the OpenAPI document."""

    def decorator(view):
        view.api_doc = {
            "body": body,
            "query": query,
            "responses": responses or {200: "OK"},
            "tag": tag,
        }
        return view

    return decorator


def parse_body(model: type[BaseModel]) -> BaseModel:
    """Validate a JSON body; 415 when it is not JSON, 400 when it is not an object, 422 with
    one entry per bad field otherwise."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", _("Send the body as application/json."))
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", _("The body must be a JSON object."))
    return _validate(model, data)


def parse_query(model: type[BaseModel]) -> BaseModel:
    return _validate(model, request.args.to_dict())


def _validate(model: type[BaseModel], data: dict) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {
            ".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()
        }
        raise ApiError(
            422, "invalid", _("Some fields are missing or invalid."), {"fields": fields}
        ) from None


def error_response(exc: ApiError):
    response = current_app.json.response(exc.to_dict())
    response.status_code = exc.status
    if exc.status == 429 and exc.details.get("retry_after"):
        response.headers["Retry-After"] = str(exc.details["retry_after"])
    return response


def http_exception_as_api_error(exc: HTTPException) -> ApiError:
    code = HTTP_CODES.get(exc.code, "error")
    messages = {
        404: _("No such resource."),
        405: _("This method is not allowed here."),
        413: _("The request body is too large."),
        400: _("The request could not be understood."),
    }
    message = messages.get(exc.code, exc.description or exc.name)
    if exc.code == 400 and "CSRF" in (exc.description or ""):
        code, message = (
            "csrf_failed",
            _("The form expired or the CSRF token is missing. Reload and try again."),
        )
    return ApiError(exc.code, code, message)


# --- OpenAPI -------------------------------------------------------------------------------


def build_openapi(app) -> dict:
    paths: dict = {}
    components: dict = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        path = _openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, view, method, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "disaster-ai API",
            "version": __version__,
            "description": "JSON API of the disaster-response desk. Errors always have the form "
            '{"error": {"code", "message", "details"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": {**components, "Error": _ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}


def _openapi_path(rule: str) -> str:
    import re

    return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", r"{\1}", rule)


def _operation(rule, view, method: str, components: dict) -> dict:
    doc = getattr(view, "api_doc", {}) or {}
    docstring = inspect.getdoc(view) or ""
    summary, _, description = docstring.partition("\n")
    operation = {
        "operationId": f"{rule.endpoint}.{method.lower()}",
        "summary": summary.strip(),
        "description": description.strip(),
        "tags": [doc.get("tag", rule.endpoint.split(".")[0])],
        "parameters": [
            {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
            for arg in sorted(rule.arguments)
        ],
        "responses": {
            str(code): {"description": text}
            for code, text in doc.get("responses", {200: "OK"}).items()
        },
    }
    for code in (400, 401, 403, 404, 413, 415, 422):
        operation["responses"].setdefault(
            str(code),
            {
                "description": HTTP_CODES[code],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )
    action = getattr(view, "required_action", None)
    if action:
        operation["x-required-permission"] = action
    body = doc.get("body")
    if body is not None and method in {"POST", "PUT", "PATCH"}:
        components[body.__name__] = body.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}
            },
        }
    query = doc.get("query")
    if query is not None:
        for name, field in query.model_fields.items():
            operation["parameters"].append(
                {
                    "name": name,
                    "in": "query",
                    "required": field.is_required(),
                    "description": field.description or "",
                    "schema": {"type": "string"},
                }
            )
    return operation
