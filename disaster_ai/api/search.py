"""``/api/v1/search``: the desk's search box as JSON (:mod:`disaster_ai.search`)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_babel import get_locale
from pydantic import BaseModel, ConfigDict, Field

from disaster_ai import search
from disaster_ai.api.framework import api_doc, parse_query
from disaster_ai.auth import current_actor, requires

bp = Blueprint("api_search", __name__, url_prefix="/api/v1")


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str = Field(default="", max_length=search.MAX_QUERY, description="What to find")


@bp.get("/search")
@requires("desk.view")
@api_doc(query=SearchQuery, responses={200: "Results, best first", 422: "Empty or too long"})
def search_api():
    """Towns (by name or reading: kana or romaji), addresses, districts, shelters, incidents
    and whatever plugins add (``dai_search``), best first. Each result has ``url``, the page
    that shows it (the map centred on a place), and ``lat``/``lon`` when it has a point."""
    q = parse_query(SearchQuery)
    results = search.search(q.q, current_actor(), str(get_locale()))
    return jsonify({"query": q.q.strip(), "results": [search.result_dict(r) for r in results]})
