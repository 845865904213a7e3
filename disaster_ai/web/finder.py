"""The desk's search page (``/search?q=``): the header's search box lands here, and each
result links to its page (a place: the map centred on it)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import get_locale

from disaster_ai import search
from disaster_ai.auth import current_actor, requires
from disaster_ai.errors import ApiError

bp = Blueprint("search", __name__)


@bp.get("/search")
@requires("desk.view")
def search_page():
    query = (request.args.get("q") or "").strip()
    results, error, status = [], None, 200
    if query:
        try:
            results = search.search(query, current_actor(), str(get_locale()))
        except ApiError as exc:
            error, status = exc.message, 422
    return render_template("search.html", query=query, results=results, error=error), status
