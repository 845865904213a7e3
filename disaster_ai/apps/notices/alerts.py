"""The notices app's live notifications (``dai_notifications``): a notice waiting for
approval reaches the approvers, its approval or rejection its author, a 提案 the desk."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from disaster_ai import events
from disaster_ai.types import Notification


def notifications_for(event) -> list[Notification]:
    if isinstance(event, events.NoticeSubmitted):
        return [
            Notification(
                key=f"notice:{event.id}:submitted",
                title=_l("Notice #%(id)s waits for approval", id=event.id),
                body=_l(
                    "Level %(level)s, %(count)s districts, submitted by %(who)s.",
                    level=event.level,
                    count=len(event.districts),
                    who=event.submitted_by,
                ),
                endpoint="notices_web.show",
                values={"notice_id": event.id},
                roles=("approver",),
                exclude_user=event.submitted_by,
                severity="urgent",
            )
        ]
    if isinstance(event, events.NoticeApproved):
        return [
            Notification(
                key=f"notice:{event.id}:approved",
                title=_l("Notice #%(id)s was approved", id=event.id),
                body=_l("Approved by %(who)s; it can be issued now.", who=event.approved_by),
                endpoint="notices_web.show",
                values={"notice_id": event.id},
                users=(event.author,),
                exclude_user=event.approved_by,
            )
        ]
    if isinstance(event, events.NoticeRejected):
        return [
            Notification(
                key=f"notice:{event.id}:rejected",
                title=_l("Notice #%(id)s was rejected", id=event.id),
                body=_l(
                    "Withdrawn by %(who)s: %(reason)s",
                    who=event.rejected_by,
                    reason=event.reason or "—",
                ),
                endpoint="notices_web.show",
                values={"notice_id": event.id},
                users=(event.author,),
                exclude_user=event.rejected_by,
                severity="urgent",
            )
        ]
    if isinstance(event, events.SuggestionCreated):
        return [
            Notification(
                key=f"notice:{event.notice_id}:suggested",
                title=_l("Suggestion (提案): notice #%(id)s", id=event.notice_id),
                body=_l(
                    "%(plugin)s suggests level %(level)s for %(count)s districts.",
                    plugin=event.plugin,
                    level=event.level,
                    count=len(event.districts),
                ),
                endpoint="notices_web.show",
                values={"notice_id": event.notice_id},
                roles=("operator",),
            )
        ]
    return []
