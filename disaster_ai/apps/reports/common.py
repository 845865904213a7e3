"""What the reports modules share: errors, labels, the clock, the app context and the event."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from disaster_ai.apps.reports.items import _

APP = "reports"

STATE_JA = {"confirmed": "確定", "unconfirmed": "未確認"}
SOURCE_LABELS = {
    # TRANSLATORS: where a damage figure came from (電話連絡)
    "phone": _l("Phone report"),
    # TRANSLATORS: where a damage figure came from (現地調査班)
    "field_team": _l("Field team"),
    # TRANSLATORS: where a damage figure came from (受付事案): counted from recorded incidents
    "incidents": _l("Recorded incidents"),
    # TRANSLATORS: where a damage figure came from (関係機関): police, utilities, the prefecture
    "agency": _l("Other agency"),
    # TRANSLATORS: where a damage figure came from (本部入力): entered at the disaster desk
    "desk": _l("Desk entry"),
    # TRANSLATORS: where a damage figure came from (その他)
    "other": _l("Other"),
}
# The Japanese names printed in reports (an official document, Japanese whatever the UI language).
SOURCE_JA = {
    "phone": "電話連絡",
    "field_team": "現地調査班",
    "incidents": "受付事案",
    "agency": "関係機関",
    "desk": "本部入力",
    "other": "その他",
    "auto": "自動集計",
}


class ReportError(Exception):
    """A refused call. ``status``/``code`` map to the API's error format; ``field`` names the
    input at fault (an item path, ``value``, ``people`` …)."""

    status = 422
    code = "invalid"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ReportError):
    status, code = 404, "not_found"


class Conflict(ReportError):
    status, code = 409, "conflict"


def desk(app):
    """This app's facade (``disaster_ai.desk``): the disaster events belong to the bulletins
    app, the incidents and shelters to the situation app; this app reaches them only through
    it."""
    from disaster_ai.desk import Desk

    return Desk(app, APP)


def clock(app) -> datetime:
    """The desk's clock: the one the bulletins read (tests inject it the same way, as
    ``app.extensions["disaster_ai.bulletins.clock"]``)."""
    from disaster_ai.storage.base import now

    injected = app.extensions.get("disaster_ai.bulletins.clock")
    return injected() if injected else now()


def app_context(app):
    """The app's context: the current one when it is already pushed (a request keeps its
    ``g``), else a new one (jobs, scheduler, CLI)."""
    return desk(app).context()


def get_event(session, event_id: int, *, open_only: bool = False):
    """The disaster event (``desk.disasters.get``: a ``DisasterInfo``); NotFound, or Conflict
    when ``open_only`` and it is closed."""
    from flask import current_app

    event = desk(current_app._get_current_object()).disasters.get(event_id, session=session)
    if event is None:
        raise NotFound(_("No disaster event %(id)s.", id=event_id), "event")
    if open_only and event.closed_at is not None:
        raise Conflict(
            _("The disaster event %(name)s is closed.", name=event.name),
            "event",
        )
    return event


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in Japan time, whole seconds, with ``+09:00`` (STANDARDS.md §1.4)."""
    from disaster_ai.storage.base import JST

    if value is None:
        return None
    return value.astimezone(JST).replace(microsecond=0).isoformat()
