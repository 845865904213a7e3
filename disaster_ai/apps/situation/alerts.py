"""The situation app's live notifications (``dai_notifications``): a new incident that
threatens life, or one a call or a feed recorded unverified, reaches the desk's operators."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from disaster_ai import events
from disaster_ai.types import Notification


class CategoryWord:
    """An incident category's word in the language the notification is rendered in."""

    def __init__(self, code: str):
        self.code = code

    def __str__(self) -> str:
        from disaster_ai.categories import label

        return label(self.code, str(get_locale() or "ja"))


def notifications_for(event) -> list[Notification]:
    if not isinstance(event, events.IncidentCreated):
        return []
    if not event.life_threat and not (event.status == "unverified" and event.source != "user"):
        return []
    place = event.place_name or "—"
    what = CategoryWord(event.category)
    if event.life_threat:
        title = _l("Life threat: %(what)s at %(place)s", what=what, place=place)
    else:
        title = _l("To check: %(what)s at %(place)s", what=what, place=place)
    return [
        Notification(
            key=f"incident:{event.id}",
            title=title,
            body=_l("Incident #%(id)s, reported by %(source)s.", id=event.id, source=event.source),
            endpoint="situation_incidents_web.detail_page",
            values={"incident_id": event.id},
            roles=("operator",),
            exclude_user=event.created_by,
            severity="urgent" if event.life_threat else "info",
        )
    ]
