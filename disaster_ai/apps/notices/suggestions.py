"""The suggestion inbox (提案): notices that plugins suggest through ``desk.notices.suggest``.

A suggestion is an ordinary draft (:func:`workflow.save_draft`: the same checks, facts, texts
and guard) with ``suggestion`` set: the plugin, its reference, a title and link to the source,
and when it came. It is never issued by itself. The desk sees it on the dashboard and on the
notices page marked 提案; an operator who submits it adopts it (``adopted_by``), and the normal
approval follows: an approver who is neither the plugin nor that operator approves, then issues.

One suggestion per plugin and reference: suggesting the same reference again returns the notice
made the first time, whatever became of it (a draft, adopted, issued or cancelled), so a feed polled
every few minutes neither floods the inbox nor asks again for what the desk decided. A plugin that
wants a new suggestion for the same item gives a new reference (e.g. ``"W-1@level4"``).
"""

from __future__ import annotations

from flask import has_request_context, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai import audit, events
from disaster_ai.apps.notices.base import APP, NoticeError
from disaster_ai.apps.notices.models import Notice
from disaster_ai.apps.notices.workflow import save_draft
from disaster_ai.errors import ApiError
from disaster_ai.storage.base import now
from disaster_ai.types import (
    Actor,
    DashboardPanel,
    NoticeSuggestion,
    SuggestionOutdated,
    SuggestionRef,
)


def open_suggestions(session: Session, limit: int = 50) -> list[Notice]:
    """Suggested drafts nobody has submitted or cancelled yet, newest first."""
    query = (
        select(Notice)
        .where(Notice.status == "draft", Notice.suggestion.is_not(None))
        .order_by(Notice.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def _made_for(session: Session, plugin: str, ref: str) -> Notice | None:
    """The notice already suggested for this plugin and reference, whatever became of it."""
    query = select(Notice).where(Notice.suggestion.is_not(None)).order_by(Notice.id.desc())
    for notice in session.scalars(query):
        if notice.suggestion.get("plugin") == plugin and notice.suggestion.get("ref") == ref:
            return notice
    return None


def notice_url(notice_id: int) -> str:
    if has_request_context():
        return url_for("notices_web.show", notice_id=notice_id)
    return f"/apps/notices/{notice_id}"


def _linkable(url: str) -> bool:
    """An http(s) link, or a path on this desk (never ``javascript:`` or ``//elsewhere``)."""
    return url.startswith(("http://", "https://")) or (
        url.startswith("/") and not url.startswith("//")
    )


def suggest(session: Session, suggestion: NoticeSuggestion, actor: Actor) -> SuggestionRef:
    source = suggestion.source
    existing = _made_for(session, source.plugin, source.ref)
    if existing is not None:
        return SuggestionRef(existing.id, created=False, url=notice_url(existing.id))
    try:
        notice = save_draft(
            session,
            {
                "hazard": suggestion.hazard,
                "action": suggestion.action,
                "level": suggestion.level,
                "districts": list(suggestion.districts),
                "reason": suggestion.reason,
                "exercise": suggestion.exercise,
            },
            actor,
        )
    except NoticeError as exc:  # the facade's one error type for refused input
        raise ApiError(exc.status, exc.code, exc.message, {"field": exc.field}) from exc
    notice.suggestion = {
        "plugin": source.plugin,
        "ref": source.ref[:255],
        "title": source.title[:255],
        "url": source.url[:1000] if _linkable(source.url) else "",
        "detail": dict(source.detail),
        "at": now().isoformat(),
    }
    session.flush()
    audit.record(
        "notices.suggest",
        app=APP,
        target=f"notice:{notice.id}",
        detail={
            "plugin": source.plugin,
            "ref": source.ref,
            "title": source.title,
            "level": notice.level,
            "hazard": notice.hazard,
        },
        actor=actor,
        session=session,
    )
    events.emit(
        events.SuggestionCreated(
            notice_id=notice.id,
            plugin=source.plugin,
            hazard=notice.hazard,
            level=notice.level,
            districts=tuple(d["key"] for d in notice.districts),
            source=dict(notice.suggestion),
        ),
        session=session,
    )
    return SuggestionRef(notice.id, created=True, url=notice_url(notice.id))


def outdate(session: Session, outdated: SuggestionOutdated, actor: Actor) -> SuggestionRef | bool:
    """Mark the plugin's suggestion ``outdated.ref`` outdated (its source was cancelled or
    lowered): ``suggestion["outdated"] = {"at", "reason"}``, audited once. The notice itself is
    left as it is: a draft stays in the inbox marked 失効; one already adopted is the desk's to
    decide. False when the plugin made no suggestion with that reference."""
    notice = _made_for(session, outdated.plugin, outdated.ref)
    if notice is None:
        return False
    if not (notice.suggestion or {}).get("outdated"):
        notice.suggestion = {
            **notice.suggestion,
            "outdated": {"at": now().isoformat(), "reason": outdated.reason[:500]},
        }
        session.flush()
        audit.record(
            "notices.suggestion_outdated",
            app=APP,
            target=f"notice:{notice.id}",
            detail={
                "plugin": outdated.plugin,
                "ref": outdated.ref,
                "reason": outdated.reason,
                "status": notice.status,
            },
            actor=actor,
            session=session,
        )
    return SuggestionRef(notice.id, created=False, url=notice_url(notice.id))


def dashboard_panels(actor) -> list[DashboardPanel]:
    """The 提案 inbox on the dashboard, for whoever may draft notices."""
    from flask_babel import gettext as _
    from flask_babel import lazy_gettext as _l

    from disaster_ai.apps.notices import facts as f
    from disaster_ai.apps.notices.scenario import hazard_word
    from disaster_ai.auth import is_allowed
    from disaster_ai.storage.engine import db

    if actor is None or not is_allowed(actor, "notices.draft"):
        return []
    items = []
    for notice in open_suggestions(db(), limit=20):
        source = notice.suggestion or {}
        districts = "、".join(d["name"] for d in notice.districts)
        items.append(
            {
                "label": f"警戒レベル{notice.level} {f.LEVEL_NAMES[notice.level]} {notice.action}"
                f" · {hazard_word(notice.hazard)} · {districts}",
                "url": notice_url(notice.id),
                "note": " · ".join(
                    part
                    for part in (
                        # TRANSLATORS: a suggested notice whose source was cancelled or lowered
                        _("Outdated: %(reason)s", reason=source["outdated"].get("reason") or "-")
                        if source.get("outdated")
                        else "",
                        source.get("plugin"),
                        source.get("title"),
                    )
                    if part
                ),
            }
        )
    data = {"available": True, "items": items, "empty": _("No suggested notices.")}
    # TRANSLATORS: the dashboard card of notices that plugins suggested (提案)
    return [DashboardPanel("suggestions", data, title=_l("Suggested notices"), order=40)]
