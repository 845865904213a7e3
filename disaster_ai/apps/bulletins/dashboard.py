"""The bulletins app's dashboard panel (``dai_dashboard_panels``): the latest bulletin (第N報)."""

from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from disaster_ai.auth import is_allowed
from disaster_ai.storage.base import JST
from disaster_ai.storage.engine import db
from disaster_ai.types import DashboardPanel


def panels(actor) -> list[DashboardPanel]:
    if actor is None or not is_allowed(actor, "bulletins.view"):
        return []
    return [
        DashboardPanel(
            "bulletin",
            latest_bulletin(),
            title=_l("Latest bulletin"),
            order=30,
            template="bulletins/dashboard_panel.html",
        )
    ]


def latest_bulletin() -> dict:
    from disaster_ai.apps.bulletins.models import Bulletin

    latest = db().scalar(select(Bulletin).order_by(Bulletin.issued_at.desc(), Bulletin.id.desc()))
    if latest is None:
        return {"available": True, "item": None}
    issued = latest.issued_at.astimezone(JST)
    return {
        "available": True,
        "item": {
            "id": latest.id,
            "number": latest.number,
            "title": str((latest.snapshot or {}).get("bulletin", {}).get("title") or ""),
            "issued_at": issued.replace(microsecond=0).isoformat(),
            "issued": issued.strftime("%Y-%m-%d %H:%M"),
            "url": url_for("bulletins_web.bulletin_page", bulletin_id=latest.id),
            "pdf_url": f"/api/v1/bulletins/{latest.id}.pdf",
        },
    }
