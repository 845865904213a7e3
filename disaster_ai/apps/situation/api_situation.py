"""The situation picture over HTTP: one JSON document, its Japanese text and a static PNG map.

Views parse and check the query, then call :mod:`disaster_ai.apps.situation.summary` (the
service). The document's schema is in docs/situation.md.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, Response, current_app
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field

from disaster_ai import hazards
from disaster_ai.api.framework import api_doc, parse_query
from disaster_ai.apps.situation import summary
from disaster_ai.apps.situation.models import HAZARDS
from disaster_ai.auth import requires
from disaster_ai.errors import ApiError
from disaster_ai.storage.engine import db

bp = Blueprint("situation_situation", __name__, url_prefix="/api/v1")


class SituationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hazard: str | None = Field(
        default=None,
        max_length=32,
        description="active hazard: "
        + ", ".join(HAZARDS)
        + "; default: the SITUATION_HAZARD setting",
    )
    since: str | None = Field(
        default=None,
        max_length=64,
        description="time of the last summary, with offset, e.g. 2025-09-05T09:00:00+09:00 "
        "(encode + as %2B); incidents recorded after it count as new",
    )


def _parse_query() -> tuple[str | None, datetime | None]:
    query = parse_query(SituationQuery)
    hazard = query.hazard or None
    if hazard is not None and hazard not in hazards.registry():
        raise ApiError(
            422,
            "invalid",
            _(
                "Unknown hazard %(hazard)s. Hazards: %(hazards)s.",
                hazard=hazard,
                hazards=", ".join(hazards.codes()),
            ),
            {"fields": {"hazard": "unknown hazard"}},
        )
    since = None
    if query.since:
        text = query.since
        # An unencoded "+09:00" arrives as " 09:00": read it as the offset it was meant to be.
        text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text)
        try:
            since = datetime.fromisoformat(text)
        except ValueError:
            raise ApiError(
                422,
                "invalid",
                _(
                    "since is not a date and time: give ISO 8601 with an offset, "
                    "e.g. 2025-09-05T09:00:00+09:00."
                ),
                {"fields": {"since": "not an ISO 8601 date-time"}},
            ) from None
        if since.tzinfo is None or since.utcoffset() is None:
            raise ApiError(
                422,
                "invalid",
                _("since has no UTC offset: add one, e.g. +09:00."),
                {"fields": {"since": "timezone offset required"}},
            )
    return hazard, since


def _situation():
    hazard, since = _parse_query()
    return summary.compute_situation(db(), hazard, since)


@bp.get("/situation")
@requires("situation.view")
@api_doc(
    query=SituationQuery,
    tag="situation",
    responses={
        200: "The situation document (schema: docs/situation.md)",
        422: "Unknown hazard, or a time without an offset",
    },
)
def situation():
    """The situation picture as one JSON document.

    Incidents per district by category, severity and time window with new-since counts; people
    exposed per district and hazard zone (areal-weighted estimate); shelters usable, unsafe or
    closed for the active hazard with occupancy against capacity; the nearest usable shelter per
    district (straight-line distance); hotspots; the method notes and every dataset's attribution.
    """
    return current_app.json.response(_situation().doc)


@bp.get("/situation.txt")
@requires("situation.view")
@api_doc(
    query=SituationQuery,
    tag="situation",
    responses={
        200: "The Japanese situation report (text/plain; charset=utf-8)",
        422: "Unknown hazard, or a time without an offset",
    },
)
def situation_text():
    """The situation as a Japanese 災害対策本部-style report, built only from the document's numbers."""
    text = summary.render_text_ja(_situation().doc)
    return Response(text, mimetype="text/plain", content_type="text/plain; charset=utf-8")


@bp.get("/situation.png")
@requires("situation.view")
@api_doc(
    query=SituationQuery,
    tag="situation",
    responses={
        200: "A static map (image/png) with legend and attribution",
        422: "Unknown hazard, or a time without an offset",
    },
)
def situation_png():
    """A static map of the situation for bulletins: districts, hazard zones, shelters by state,
    incidents by category, hotspots, a legend and every dataset's attribution."""
    return Response(summary.png_bytes(_situation()), mimetype="image/png")
