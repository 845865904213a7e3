"""What every JSON endpoint shares: body parsing with pydantic, the one error format, and the
OpenAPI document built from the routes themselves (their docstrings and declared models)."""

from __future__ import annotations

import inspect
import re

from flask import current_app, request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from disaster_ai import __version__
from disaster_ai.errors import ApiError
from disaster_ai.security import DB_INT_MAX, control_character_error, has_control_characters

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


MAX_JSON_DEPTH = 32  # objects and arrays inside one another; no endpoint needs more than a few


def parse_body(model: type[BaseModel]) -> BaseModel:
    """Validate a JSON body; 415 when it is not JSON, 400 when it is not an object or is nested
    deeper than MAX_JSON_DEPTH, 422 with one entry per bad field otherwise (a NUL or another
    control character in any text, or an integer beyond the database's range, included)."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", _("Send the body as application/json."))
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # the parser itself gives up long before a stack overflow
        _raise_too_deep()
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", _("The body must be a JSON object."))
    problems = _scan_json(data)
    if problems:
        raise control_character_error(problems)
    return _validate(model, data)


def parse_query(model: type[BaseModel]) -> BaseModel:
    bad = [k for k, v in request.args.items() if has_control_characters(k + v)]
    if bad:  # the app's before_request refuses these first; kept for direct callers
        raise control_character_error(bad)
    return _validate(model, request.args.to_dict())


def _raise_too_deep():
    raise ApiError(
        400,
        "bad_request",
        _("The JSON is nested too deeply (at most %(depth)s levels).", depth=MAX_JSON_DEPTH),
    )


def _scan_json(data) -> list[str]:
    """Walk the parsed body without recursion: refuse nesting deeper than MAX_JSON_DEPTH and
    return the paths (``reason``, ``edits.sms``, ``districts.0``) of texts holding control
    characters."""
    bad: list[str] = []
    stack = [(data, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            _raise_too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                if has_control_characters(key):
                    bad.append(".".join(map(str, path)) or "body")
                stack.append((item, (*path, key), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, (*path, i), depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str) and has_control_characters(value):
            bad.append(".".join(map(str, path)) or "body")
    return sorted(set(bad))[:20]


def _validate(model: type[BaseModel], data: dict) -> BaseModel:
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        fields = {
            ".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()
        }
        raise ApiError(
            422, "invalid", _("Some fields are missing or invalid."), {"fields": fields}
        ) from None
    too_large = _integers_out_of_range(parsed.model_dump())
    if too_large:
        raise ApiError(
            422,
            "invalid",
            _("Some fields are missing or invalid."),
            {
                "fields": {
                    name: _(
                        "Enter a number from %(low)s to %(high)s.", low=-DB_INT_MAX, high=DB_INT_MAX
                    )
                    for name in too_large
                }
            },
        )
    return parsed


def _integers_out_of_range(data) -> list[str]:
    """Paths of integers the database's integer columns cannot hold (ids, offsets, counts)."""
    out: list[str] = []
    stack = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            stack.extend((item, (*path, key)) for key, item in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > DB_INT_MAX:
            out.append(".".join(map(str, path)) or "body")
    return sorted(out)


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


_PATH_ARGUMENT = re.compile(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-zA-Z_]+)>")


def _openapi_path(rule: str) -> str:
    return _PATH_ARGUMENT.sub(r"{\2}", rule)


def _path_parameters(rule) -> list[dict]:
    converters = {name: conv or "default" for conv, name in _PATH_ARGUMENT.findall(rule.rule)}
    parameters = []
    for arg in sorted(rule.arguments):
        schema = (
            {"type": "integer", "minimum": 0, "maximum": DB_INT_MAX}
            if converters.get(arg) == "int"
            else {"type": "string"}
        )
        parameters.append({"name": arg, "in": "path", "required": True, "schema": schema})
    return parameters


def _error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _operation(rule, view, method: str, components: dict) -> dict:
    doc = getattr(view, "api_doc", {}) or {}
    docstring = inspect.getdoc(view) or ""
    summary, _, description = docstring.partition("\n")
    operation = {
        "operationId": f"{rule.endpoint}.{method.lower()}",
        "summary": summary.strip(),
        "description": description.strip(),
        "tags": [doc.get("tag", rule.endpoint.split(".")[0])],
        "parameters": _path_parameters(rule),
        "responses": {
            str(code): _error_response(text) if int(code) >= 400 else {"description": text}
            for code, text in doc.get("responses", {200: "OK"}).items()
        },
    }
    for code in (400, 401, 403, 404, 413, 415, 422):
        operation["responses"].setdefault(str(code), _error_response(HTTP_CODES[code]))
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
        properties = query.model_json_schema().get("properties", {})
        for name, field in query.model_fields.items():
            schema = _query_schema(properties.get(name, {}))
            operation["parameters"].append(
                {
                    "name": name,
                    "in": "query",
                    "required": field.is_required(),
                    "description": field.description or "",
                    "schema": schema,
                }
            )
    return operation


def _query_schema(schema: dict) -> dict:
    """A query field's JSON schema without the null branch (a query string has no null)."""
    schema = {k: v for k, v in schema.items() if k not in ("title", "default", "description")}
    options = [s for s in schema.pop("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    if schema.get("type") == "integer":
        schema.setdefault("maximum", DB_INT_MAX)
    return schema or {"type": "string"}
