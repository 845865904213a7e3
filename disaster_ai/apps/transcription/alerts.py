"""The transcription app's live notifications (``dai_notifications``): a call that reports a
threat to life (or needs listening again, 要確認) reaches the desk; so does a call whose
transcription failed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from disaster_ai import events
from disaster_ai.types import Notification


def notifications_for(event) -> list[Notification]:
    from disaster_ai.apps.transcription.service import TRANSCRIBE_JOB

    if isinstance(event, events.CallFlagged):
        place = event.place_name or "—"
        if event.level == "yes":
            title = _l("Call #%(id)s: life threat at %(place)s", id=event.id, place=place)
        else:
            title = _l(
                "Call #%(id)s: check for a life threat (%(place)s)", id=event.id, place=place
            )
        return [
            Notification(
                key=f"call:{event.id}",
                title=title,
                body=_l("Listen to the call and confirm the facts."),
                endpoint="calls_web.call_page",
                values={"call_id": event.id},
                roles=("operator",),
                severity="urgent",
            )
        ]
    if isinstance(event, events.JobFailed) and event.kind == TRANSCRIBE_JOB:
        call_id = event.payload.get("call_id")
        if not isinstance(call_id, int):
            return []
        return [
            Notification(
                key=f"job:{event.id}",
                title=_l("Call #%(id)s could not be transcribed", id=call_id),
                body=event.error[:200],
                endpoint="calls_web.call_page",
                values={"call_id": call_id},
                roles=("operator",),
                severity="urgent",
            )
        ]
    return []
