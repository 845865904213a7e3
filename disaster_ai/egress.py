"""Egress policy: by default nothing leaves the machine.

An AI backend (or any component) that calls a URL must go through ``check_outbound`` (or
``outbound_request``). Loopback is always allowed; any other host needs
``ALLOW_EXTERNAL_AI`` *and* the host in ``EGRESS_ALLOWLIST``, and every such call is audited.

``kind="delivery"`` (bulletin e-mail and webhooks, which carry no data to an AI service) needs
only the host in ``EGRESS_ALLOWLIST``; loopback is still always allowed.

``kind="feed"`` (a plugin reading an outside data feed through ``desk.egress.fetch``) needs the
host in ``EGRESS_ALLOWLIST`` too, and only http(s) URLs; every feed fetch is audited
(``egress.call``, or ``egress.failed``), loopback included, so that the desk can always say
where an incident made from a feed came from.

A refused call of any kind is audited as ``egress.refused`` with the host and the reason
(``not_a_url``, ``external_ai_disabled``, ``not_in_allowlist``, ``data_class_not_allowed``,
``data_class_refused``).

Data classes (``data_class``: ``public``, ``personal``, ``confidential``; docs/governance.md):
this server (loopback) may receive every class; an outside host receives ``public`` data only,
unless a ``dai_egress_allows`` implementation allows the class for that host (the governance
app does, for hosts an admin marked). Calls are ``personal``: they never leave the machine
otherwise. Any implementation answering False refuses the call (``data_class_refused``: for
example a component of the AI inventory that may not receive that class); one that raises
counts as False.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import time
import urllib.request
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from flask_babel import gettext as _

from disaster_ai import audit

log = logging.getLogger(__name__)


KINDS = ("ai", "delivery", "feed")
DATA_CLASSES = ("public", "personal", "confidential")
FEED_MAX_BYTES = 20 * 1024 * 1024  # a feed larger than this is refused while it is read


class EgressDenied(PermissionError):
    pass


class FeedError(OSError):
    """A feed could not be read (HTTP error, timeout, too large); audited as egress.failed."""


def is_loopback_host(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_outbound(
    url: str,
    purpose: str,
    app=None,
    kind: str = "ai",
    app_name: str | None = None,
    data_class: str = "public",
    component: str | None = None,
) -> str:
    """Return the host when a call to ``url`` is allowed; raise EgressDenied otherwise.

    ``kind`` is ``"ai"`` (ALLOW_EXTERNAL_AI and the allowlist), ``"delivery"`` or ``"feed"``
    (the allowlist; a feed must be http or https). ``data_class`` is the class of the data
    sent and ``component`` the inventory component sending it (see the module's docstring).
    Every refusal, of either kind, is audited (``egress.refused``) with the host and the reason,
    in a transaction of its own so that it stays recorded when the caller rolls back."""
    app = app or current_app
    if kind not in KINDS:
        raise ValueError(f"unknown egress kind {kind!r}")
    if data_class not in DATA_CLASSES:
        raise ValueError(f"unknown data class {data_class!r}")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or (kind == "feed" and parts.scheme not in ("http", "https")):
        _refuse(app, host, "not_a_url", purpose, kind, app_name, _("Not a URL: %(url)s", url=url))
    policy = (purpose, kind, app_name, data_class, component)
    if is_loopback_host(host):
        _check_data_class(app, host, policy, local=True)
        return host
    if kind == "ai" and not app.config["ALLOW_EXTERNAL_AI"]:
        _refuse(
            app,
            host,
            "external_ai_disabled",
            purpose,
            kind,
            app_name,
            _(
                "Outbound connections are disabled (DISASTER_AI_ALLOW_EXTERNAL_AI is off): %(host)s",
                host=host,
            ),
        )
    allowlist = {entry.lower() for entry in app.config["EGRESS_ALLOWLIST"]}
    if host not in allowlist:
        _refuse(
            app,
            host,
            "not_in_allowlist",
            purpose,
            kind,
            app_name,
            _("%(host)s is not in DISASTER_AI_EGRESS_ALLOWLIST", host=host),
        )
    _check_data_class(app, host, policy, local=False)
    return host


def _check_data_class(app, host: str, policy: tuple, *, local: bool) -> None:
    """Refuse (audited) data of a class the host or the component may not receive."""
    from disaster_ai.plugins import call_each
    from disaster_ai.types import EgressRequest

    purpose, kind, app_name, data_class, component = policy
    if data_class == "public" and component is None:
        return
    request = EgressRequest(host, kind, purpose, app_name, data_class, component)
    pm = app.extensions.get("disaster_ai")
    with contextlib.ExitStack() as stack:
        if not has_app_context():
            stack.enter_context(app.app_context())
        outcomes = call_each(pm, "dai_egress_allows", consequence="refused", request=request)
    answers = [False if o.error is not None else o.value for o in outcomes]
    extra = {"data_class": data_class, "component": component}
    if False in answers:
        _refuse(
            app,
            host,
            "data_class_refused",
            purpose,
            kind,
            app_name,
            _(
                "%(host)s may not receive %(data_class)s data (%(component)s)",
                host=host,
                data_class=data_class,
                component=component or "-",
            ),
            extra,
        )
    if not local and data_class != "public" and True not in answers:
        _refuse(
            app,
            host,
            "data_class_not_allowed",
            purpose,
            kind,
            app_name,
            _(
                "%(host)s is not allowed to receive %(data_class)s data: an admin must allow it "
                "(AI governance, hosts)",
                host=host,
                data_class=data_class,
            ),
            extra,
        )


def _refuse(
    app,
    host: str,
    reason: str,
    purpose: str,
    kind: str,
    app_name,
    message: str,
    extra: dict | None = None,
):
    detail = {"host": host, "reason": reason, "purpose": purpose, "kind": kind, **(extra or {})}
    try:
        with contextlib.ExitStack() as stack:
            if not has_app_context():
                stack.enter_context(app.app_context())
            audit.record("egress.refused", app=app_name, target=host or None, detail=detail)
    except Exception:  # the refusal itself must stand even when the audit write fails
        log.exception("could not audit a refused egress to %r", host)
    log.warning("egress refused: %s (%s, %s, %s)", host, reason, kind, purpose)
    raise EgressDenied(message)


def outbound_request(
    url: str,
    *,
    purpose: str,
    app_name: str,
    data: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 30,
    kind: str = "ai",
    data_class: str = "public",
    component: str | None = None,
) -> bytes:
    """POST/GET through the policy; each external call is audited with its duration.
    ``data_class`` and ``component``: see :func:`check_outbound`."""
    host = check_outbound(
        url, purpose, kind=kind, app_name=app_name, data_class=data_class, component=component
    )
    started = time.monotonic()
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - checked above
        body = response.read()
    if not is_loopback_host(host):
        audit.record(
            "egress.call",
            app=app_name,
            target=host,
            detail={
                "purpose": purpose,
                "kind": kind,
                "data_class": data_class,
                "component": component,
                "bytes_out": len(data or b""),
                "bytes_in": len(body),
                "ms": int((time.monotonic() - started) * 1000),
            },
        )
    return body


def fetch(
    url: str,
    *,
    purpose: str,
    app_name: str,
    headers: dict | None = None,
    timeout: float = 30,
    max_bytes: int = FEED_MAX_BYTES,
) -> bytes:
    """GET a feed (``kind="feed"``): the host must be loopback or in ``EGRESS_ALLOWLIST``.

    Every fetch is audited, loopback included: ``egress.call`` with the URL's host, the
    purpose, the bytes read and the time taken, or ``egress.failed`` with the error; a
    refused URL raises :class:`EgressDenied` (audited as ``egress.refused``), a failed one
    :class:`FeedError`."""
    import urllib.error

    host = check_outbound(url, purpose, kind="feed", app_name=app_name)
    started = time.monotonic()
    request = urllib.request.Request(url, headers=headers or {})
    detail = {"purpose": purpose, "kind": "feed", "url": url[:500]}
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - checked
            body = response.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise FeedError(f"the feed is larger than {max_bytes} bytes")
    except (OSError, urllib.error.URLError) as exc:
        reason = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) else str(exc)
        audit.record(
            "egress.failed",
            app=app_name,
            target=host,
            detail={**detail, "error": reason[:300], "ms": _ms(started)},
        )
        if isinstance(exc, FeedError):
            raise
        raise FeedError(f"{host}: {reason}") from exc
    audit.record(
        "egress.call",
        app=app_name,
        target=host,
        detail={**detail, "bytes_in": len(body), "ms": _ms(started)},
    )
    return body


def fetch_response(
    url: str,
    *,
    purpose: str,
    app_name: str,
    headers: dict | None = None,
    timeout: float = 30,
    max_bytes: int = FEED_MAX_BYTES,
) -> tuple[int, bytes, dict[str, str]]:
    """GET a feed like :func:`fetch`, for a conditional request: returns ``(status, body,
    headers)`` (header names in lower case). ``304 Not Modified`` is an answer, not an error
    (empty body); it is audited as ``egress.call`` with ``status`` 304 like any other read."""
    import urllib.error

    host = check_outbound(url, purpose, kind="feed", app_name=app_name)
    started = time.monotonic()
    request = urllib.request.Request(url, headers=headers or {})
    detail = {"purpose": purpose, "kind": "feed", "url": url[:500]}
    try:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                status = response.status
                answer = {k.lower(): v for k, v in response.headers.items()}
                body = response.read(max_bytes + 1)
        except urllib.error.HTTPError as exc:
            if exc.code != 304:
                raise
            status, answer, body = 304, {k.lower(): v for k, v in exc.headers.items()}, b""
            exc.close()
        if len(body) > max_bytes:
            raise FeedError(f"the feed is larger than {max_bytes} bytes")
    except (OSError, urllib.error.URLError) as exc:
        reason = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) else str(exc)
        audit.record(
            "egress.failed",
            app=app_name,
            target=host,
            detail={**detail, "error": reason[:300], "ms": _ms(started)},
        )
        if isinstance(exc, FeedError):
            raise
        raise FeedError(f"{host}: {reason}") from exc
    audit.record(
        "egress.call",
        app=app_name,
        target=host,
        detail={**detail, "status": status, "bytes_in": len(body), "ms": _ms(started)},
    )
    return status, body, answer


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def resolve_is_local(host: str) -> bool:
    """True when every address of ``host`` is loopback (used by the socket guard in tests)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)
