"""A scenario (what the operator asks for) and its validation without the database:
hazard, action, level, districts, time; the hazard words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices.base import NoticeError
from disaster_ai.storage.base import JST


@dataclass(frozen=True)
class Scenario:
    hazard: str
    action: str
    level: int
    districts: list
    reason: str = ""
    shelters: list | None = None
    issued_at: datetime | None = None
    exercise: bool = False
    name: str | None = None
    supersedes: int | None = None


def parse_scenario(data: dict) -> Scenario:
    """Check a scenario's own fields (no database): hazard, action, level/name, time."""
    if not isinstance(data, dict):
        raise NoticeError(400, "bad_request", _("The scenario must be a JSON object."), "body")
    hazard = str(data.get("hazard") or "").strip()
    registry = f.hazards()
    by_word = {h.ja: code for code, h in registry.items()}
    hazard = by_word.get(hazard, hazard)
    if hazard not in registry:
        raise NoticeError(
            422,
            "unknown_hazard",
            _(
                "Unknown hazard %(hazard)s: use one of %(choices)s.",
                hazard=repr(data.get("hazard")),
                choices=", ".join(f"{c} ({h.ja})" for c, h in registry.items()),
            ),
            "hazard",
        )
    action = {"issue": f.ISSUE, "lift": f.LIFT}.get(
        data.get("action"), data.get("action") or f.ISSUE
    )
    if action not in f.ACTIONS:
        raise NoticeError(
            422,
            "invalid_action",
            _("action must be 発令 or 解除, not %(action)s.", action=repr(action)),
            "action",
        )
    level = data.get("level")
    if isinstance(level, str) and level.strip().isdigit():
        level = int(level)
    if isinstance(level, bool) or not isinstance(level, int) or level not in f.LEVEL_NAMES:
        from disaster_ai.i18n import reader_reads_english

        if not reader_reads_english():
            choices = "、".join(f"{n}（{name}）" for n, name in f.LEVEL_NAMES.items())
        else:
            choices = ", ".join(f"{n} ({name})" for n, name in f.LEVEL_NAMES.items())
        if level in (1, 2):
            message = _(
                "level must be one of %(levels)s, not %(level)s: levels 1 and 2 are JMA "
                "information, not a municipal evacuation notice.",
                levels=choices,
                level=repr(level),
            )
        else:
            message = _(
                "level must be one of %(levels)s, not %(level)s.",
                levels=choices,
                level=repr(level),
            )
        raise NoticeError(422, "invalid_level", message, "level")
    name = data.get("name")
    if name and name != f.LEVEL_NAMES[level]:
        if name in f.FORBIDDEN:
            message = _(
                "Level %(level)s is %(name)s, not %(given)s (a pre-2021 name that is no longer "
                "used).",
                level=level,
                name=f.LEVEL_NAMES[level],
                given=name,
            )
        else:
            message = _(
                "Level %(level)s is %(name)s, not %(given)s.",
                level=level,
                name=f.LEVEL_NAMES[level],
                given=name,
            )
        raise NoticeError(422, "level_name_mismatch", message, "name")
    districts = data.get("districts")
    if isinstance(districts, str):
        districts = [districts]
    if not districts or not isinstance(districts, list):
        raise NoticeError(422, "no_districts", _("Name at least one district."), "districts")
    issued_at = data.get("issued_at")
    if isinstance(issued_at, str) and issued_at:
        try:
            issued_at = datetime.fromisoformat(issued_at)
        except ValueError:
            raise NoticeError(
                422, "invalid_time", _("issued_at is not ISO 8601."), "issued_at"
            ) from None
    if issued_at is not None and (not isinstance(issued_at, datetime) or issued_at.tzinfo is None):
        raise NoticeError(
            422, "invalid_time", _("issued_at needs a UTC offset, e.g. +09:00."), "issued_at"
        )
    shelters = data.get("shelters")
    if isinstance(shelters, str):
        shelters = [shelters]
    supersedes = data.get("supersedes")
    if isinstance(supersedes, str):
        supersedes = supersedes.strip()
    if supersedes not in (None, "") and (
        isinstance(supersedes, bool)
        or not (
            isinstance(supersedes, int)
            or (isinstance(supersedes, str) and supersedes.isascii() and supersedes.isdigit())
        )
        or not 0 < int(supersedes) < 2**63
    ):
        raise NoticeError(
            422,
            "invalid_supersedes",
            _("supersedes must be the number of an issued notice."),
            "supersedes",
        )
    return Scenario(
        hazard=hazard,
        action=action,
        level=level,
        districts=[str(d) for d in districts],
        reason=str(data.get("reason") or "").strip(),
        shelters=None if shelters is None else [str(s) for s in shelters],
        issued_at=issued_at.astimezone(JST).replace(microsecond=0) if issued_at else None,
        exercise=bool(data.get("exercise", False)),
        name=name,
        supersedes=int(supersedes) if supersedes not in (None, "") else None,
    )


def zone_hazard(hazard: str) -> str:
    """The situation hazard whose shelter designations and hazard zones decide whether a
    shelter suits a notice about ``hazard`` (``NoticeHazard.zone_hazard``, default the code)."""
    found = f.hazard(hazard)
    return (found.zone_hazard or found.code) if found is not None else hazard


def hazard_word(hazard: str) -> str:
    found = f.hazard(hazard)
    return found.ja if found is not None else hazard


def hazard_choices() -> list[dict]:
    """The merged hazard registry for forms and the API: code, words, reasons (in order)."""
    return [
        {
            "code": h.code,
            "ja": h.ja,
            "en": h.en,
            "easy_ja": h.easy_ja,
            "reasons": list(h.reasons),
            "cap_category": h.cap_category,
            "zone_hazard": h.zone_hazard or h.code,
        }
        for h in f.hazards().values()
    ]
