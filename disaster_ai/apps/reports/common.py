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


def clock(app) -> datetime:
    """The desk's clock: the one the bulletins read (tests inject it the same way)."""
    from disaster_ai.apps.bulletins.schedules import clock as bulletins_clock

    return bulletins_clock(app)


def app_context(app):
    from disaster_ai.apps.bulletins.service import app_context as context

    return context(app)


def get_event(session, event_id: int, *, open_only: bool = False):
    from disaster_ai.apps.bulletins.models import DisasterEvent

    event = session.get(DisasterEvent, event_id)
    if event is None:
        raise NotFound(_("No disaster event %(id)s.", id=event_id), "event")
    if open_only and event.closed_at is not None:
        raise Conflict(
            _("The disaster event %(name)s is closed.", name=event.name),
            "event",
        )
    return event


def iso(value: datetime | None) -> str | None:
    from disaster_ai.apps.bulletins.snapshot import iso as to_iso

    return to_iso(value)
