"""Print views of a notice (A4, black on white): the 防災無線 script in large type for reading
aloud at the microphone, and the notice with every channel's text."""

from __future__ import annotations

from flask import Blueprint, abort

from disaster_ai.apps.notices import workflow
from disaster_ai.apps.notices.base import NoticeError
from disaster_ai.auth import requires
from disaster_ai.storage.engine import db
from disaster_ai.web.printing import render_print

bp = Blueprint("notices_print", __name__, url_prefix="/apps/notices", template_folder="templates")


def _notice(notice_id: int) -> dict:
    try:
        return workflow.notice_json(workflow.get_notice(db(), notice_id))
    except NoticeError:
        abort(404)


@bp.get("/<int:notice_id>/print")
@requires("notices.draft")
def print_notice(notice_id: int):
    """The notice with all its channels, for the file and the meeting table."""
    from disaster_ai.apps.notices.web import _status_label

    return render_print(
        "notices/print_notice.html", notice=_notice(notice_id), status_label=_status_label
    )


@bp.get("/<int:notice_id>/print/radio")
@requires("notices.draft")
def print_radio(notice_id: int):
    """The 防災無線 script in large type, one paragraph per line of the script."""
    from disaster_ai.apps.notices.web import _status_label

    notice = _notice(notice_id)
    lines = [line.strip() for line in (notice["texts"].get("radio") or "").splitlines()]
    return render_print(
        "notices/print_radio.html",
        notice=notice,
        paragraphs=[line for line in lines if line],
        status_label=_status_label,
    )
