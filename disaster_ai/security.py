"""Web hardening applied to every request and response of the app.

- **Security headers** on every response: a Content-Security-Policy without inline script
  (a per-request nonce is available to templates as ``csp_nonce()`` for the rare inline
  script a plugin needs), ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` (the
  approve and issue forms can never be framed), ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: same-origin``.
- **Bounded integer URL parts**: ``<int:…>`` accepts 0 … 2^31 − 1, the range of the database's
  integer columns; anything larger is simply no such resource (404), never a database error.
- **Control characters** (NUL and the other C0/C1 controls except tab, newline and carriage
  return) are refused in form fields and query strings with 422 naming the field; JSON bodies
  are checked in :func:`disaster_ai.api.framework.parse_body`.
- **Proxy headers** (X-Forwarded-For, -Proto, -Host, -Port, -Prefix) are trusted only when
  ``PROXY_FIX_X_FOR`` etc. say how many proxies set them (werkzeug's ProxyFix); by default the
  peer address is the client address. See docs/security.md.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, current_app, g, render_template, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from disaster_ai import basemap
from disaster_ai.errors import ApiError

DB_INT_MAX = 2**31 - 1  # sa.Integer is a 32-bit integer on PostgreSQL
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # not \t \n \r
PROXY_FIX_KEYS = ("x_for", "x_proto", "x_host", "x_port", "x_prefix")


def digits_up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 0 … ``limit`` (no sign, no leading zeros
    beyond one digit's worth): a URL part outside it never matches, so werkzeug answers 404
    for it on every method, not 405 (what a converter's own range check leads to)."""
    text, size = str(limit), len(str(limit))
    options = [rf"\d{{1,{size - 1}}}"] if size > 1 else []  # the shorter numbers
    for i, digit in enumerate(text):  # same length: smaller at position i, equal before it
        low = 1 if i == 0 and size > 1 else 0
        if int(digit) > low:
            rest = rf"\d{{{size - i - 1}}}" if i < size - 1 else ""
            options.append(f"{text[:i]}[{low}-{int(digit) - 1}]{rest}")
    options.append(text)
    return "(?:" + "|".join(options) + ")"


class BoundedIntegerConverter(IntegerConverter):
    """``<int:…>`` that never yields a number the database cannot hold."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        bound = DB_INT_MAX if max is None or max > DB_INT_MAX else max
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=bound, signed=signed)
        if not fixed_digits and not signed:
            self.regex = digits_up_to(bound)


def parse_db_int(text: str | None) -> int | None:
    """A whole number typed in a query or form (ASCII digits) that fits the database's integer
    columns, else None. ``"²".isdigit()`` is true, so ``int(text)`` alone is not safe."""
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if value <= DB_INT_MAX else None


def install_converters(app: Flask) -> None:
    """Call before any blueprint is registered (rules bind their converters on registration)."""
    app.url_map.converters["int"] = BoundedIntegerConverter


def init_app(app: Flask) -> None:
    _install_proxy_fix(app)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.before_request(_refuse_control_characters)
    app.after_request(_security_headers)


# --- control characters ------------------------------------------------------------------


def has_control_characters(text: str) -> bool:
    """True for NUL and the other C0/C1 control characters except tab, newline and CR."""
    return CONTROL_CHARACTERS.search(text) is not None


def control_character_error(fields: list[str]) -> ApiError:
    return ApiError(
        422,
        "invalid",
        _(
            "Control characters (such as NUL) are not allowed in: %(fields)s",
            fields=", ".join(fields),
        ),
        {
            "fields": {
                name: _("Control characters (such as NUL) are not allowed.") for name in fields
            }
        },
    )


def _refuse_control_characters():
    """Forms and query strings: refuse a NUL (or another control character) before any view
    sees it, naming the field. Uploaded files are not text and are not checked here."""
    bad: list[str] = []
    sources = [request.args] if request.method in ("GET", "HEAD") else [request.args, request.form]
    for source in sources:
        for name, value in source.items(multi=True):
            if has_control_characters(name) or has_control_characters(value):
                if _printable(name) not in bad:
                    bad.append(_printable(name))
    if not bad:
        return None
    error = control_character_error(bad)
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        from disaster_ai.api.framework import error_response

        return error_response(error)
    return render_template("error.html", error=error), 422


def _printable(name: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in name)[:64]


# --- response headers --------------------------------------------------------------------


def csp_nonce() -> str:
    """The nonce of this response's CSP, for ``<script nonce="{{ csp_nonce() }}">``."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(nonce: str | None = None) -> str:
    config = current_app.config
    images = ["'self'", "data:", "blob:"]
    tile_origin = basemap.remote_origin(config)  # only while a remote base map is in use
    if tile_origin:
        images.append(tile_origin)
    scripts = ["'self'"] + ([f"'nonce-{nonce}'"] if nonce else [])
    directives = {
        "default-src": ["'self'"],
        "script-src": scripts,
        # Leaflet and the map markers position and colour elements with style attributes;
        # styles cannot run script, so inline styles stay allowed while inline script is not.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": images,
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "media-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    for directive, sources in (config.get("CSP_EXTRA_SOURCES") or {}).items():
        directives.setdefault(directive, []).extend(str(s) for s in sources)
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(g.get("csp_nonce")))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


# --- proxies -----------------------------------------------------------------------------


def _install_proxy_fix(app: Flask) -> None:
    counts = {key: int(app.config.get(f"PROXY_FIX_{key.upper()}") or 0) for key in PROXY_FIX_KEYS}
    if not any(counts.values()):
        return
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, **counts)
