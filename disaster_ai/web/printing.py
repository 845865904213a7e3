"""Print views (A4, black on white): the base template ``print_base.html`` and its CSS are the
core's; apps render their sheets with :func:`render_print`."""

from __future__ import annotations

from flask import render_template

from disaster_ai.storage.base import JST, now


def render_print(template: str, **context) -> str:
    """Render an app's print template (extending ``print_base.html``) with the print time."""
    from disaster_ai.web.times import jp_datetime

    context.setdefault("printed_at", jp_datetime(now().astimezone(JST)))
    return render_template(template, **context)
