"""The bulletins app's live notifications (``dai_notifications``): a bulletin delivery that
failed for good reaches the desk."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from disaster_ai import events
from disaster_ai.types import Notification

APP = "bulletins"


def notifications_for(event) -> list[Notification]:
    if not isinstance(event, events.DeliveryFailed) or event.app != APP:
        return []
    return [
        Notification(
            key=f"delivery:{APP}:{event.id}",
            title=_l(
                "Bulletin delivery failed: %(channel)s to %(target)s",
                channel=event.channel,
                target=event.target,
            ),
            body=event.error[:200],
            endpoint="bulletins_web.bulletin_page" if event.subject_id else "bulletins_web.index",
            values={"bulletin_id": event.subject_id} if event.subject_id else {},
            roles=("operator",),
            severity="urgent",
        )
    ]
