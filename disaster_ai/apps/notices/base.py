"""What every notices module shares: the app's name, its config and the error it raises."""

from __future__ import annotations

APP = "notices"


class NoticeError(Exception):
    """A request the notices app refuses: HTTP status, a code, the field at fault, a message.

    ``code`` and ``field`` are machine-readable and never translated; ``message`` is built with
    flask_babel's gettext where it is raised, so it follows the request's language (Japanese
    by default, English with ``?lang=en`` or an English user; the CLI uses the default)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        persist: bool = False,
        **details,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        # True: the refusal changed the notice on purpose (e.g. it went back for approval);
        # the caller commits instead of rolling back
        self.persist = persist
        self.details = details


def desk():
    """The notices app's facade (``disaster_ai.desk``): how it reads the situation app's
    layers, shelters and incidents without importing it."""
    from disaster_ai.desk import current_desk

    return current_desk("notices")


def app_config():
    from flask import current_app, has_app_context

    return current_app.config if has_app_context() else {}
