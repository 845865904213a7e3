"""Desk pages of the notices app (Japanese first; every UI string through flask_babel).

- ``GET  /apps/notices``                   the drafting form and the notices (history)
- ``POST /apps/notices/preview``           every channel side by side, the shelters, the guard
- ``POST /apps/notices/preview.json``      the same as JSON, for the form's live preview (CSRF)
- ``POST /apps/notices/save``              save the previewed scenario as a draft
- ``GET  /apps/notices/<id>``              one notice: texts, guard, workflow buttons, CAP
- ``POST /apps/notices/<id>/polish``       queue the AI polish of a draft (a job), back to the page
- ``GET  /apps/notices/<id>/confirm/<step>``  the confirm page of approve | issue | cancel: the
  final key facts (level, hazard, districts and those that stay in force, shelters and whether
  each is open, the time the texts will state, every channel with its length and limit)
- ``POST /apps/notices/<id>/<step>``       submit | approve | issue | cancel; approve, issue and
  cancel only with ``confirmed=1`` from their confirm page (else: redirected to it), so one
  click never approves, issues or cancels
- ``POST /apps/notices/<id>/open-shelter`` 開設する: open a shelter the notice names (the
  situation app's shelter status, audited there; ``situation.edit``), back to the confirm page
- ``GET  /apps/notices/lift/<id>``         the drafting form prefilled for the 解除 of an issued
  notice in force (its chain's districts still in force chosen; untick some: a partial 解除)

Views call the service modules (drafting, workflow, in_force…) only. The notice texts come from the Japanese templates, not gettext.

The form works without JavaScript (the district list, the preview button). The desk script
``notice_form.js`` adds the district picker on the map, the live preview of every channel and
the copy buttons; its strings come from the template, translated.
"""

from __future__ import annotations

import unicodedata

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from disaster_ai.apps.notices import base, drafting, readings, reference, workflow
from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices import in_force as chains
from disaster_ai.apps.notices import polish as ai_polish
from disaster_ai.apps.notices.scenario import hazard_word
from disaster_ai.auth import current_actor, is_allowed, requires
from disaster_ai.storage.engine import db

bp = Blueprint("notices_web", __name__, url_prefix="/apps/notices", template_folder="templates")


def _reading_key(name: str, kana: str) -> tuple[int, str, str]:
    """How the district list is ordered: by the reading (五十音順), the data's ``name_kana``
    first, else the reading the notices read aloud (postal data, the dictionary); a name with
    no reading at all goes last, by its characters."""
    reading = str(kana or "").strip()
    if not reading:
        try:
            reading = readings.resolve(name).kana
        except Exception:  # noqa: BLE001 - the dictionary is an aid to ordering, never a failure
            reading = ""
    reading = readings.hiragana(unicodedata.normalize("NFKC", reading)).replace(" ", "")
    return (0 if reading else 1, reading, name)


def _district_choices() -> list[dict]:
    """The districts of the layer for the form: key, name and reading (hiragana), sorted by
    the reading."""
    try:
        layers = reference.reference_layers(db())
    except base.NoticeError:
        return []
    d = layers.districts
    kanas = d["name_kana"] if "name_kana" in d else [""] * len(d)
    rows = []
    for key, name, kana in zip(d["key"], d["name"], kanas, strict=True):
        name = str(name)
        kana = "" if kana is None or kana != kana else str(kana)  # NaN from the frame
        order = _reading_key(name, kana)
        rows.append({"key": str(key), "name": name, "reading": order[1], "order": order})
    rows.sort(key=lambda row: row["order"])
    return rows


# The form's controls, as the error summary names them (the service's ``field`` codes).
FIELD_LABELS = {
    "hazard": _l("Hazard"),
    "action": _l("Action"),
    "level": _l("Level"),
    "districts": _l("Districts"),
    "reason": _l("Reason"),
    "shelters": _l("Shelters"),
    "issued_at": _l("Issued at (Japan time)"),
    "exercise": _l("Exercise (訓練)"),
}
# A notice's workflow states (models.STATUSES), as the desk names them.
STATUS_LABELS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted for approval"),
    "approved": _l("Approved"),
    "issued": _l("Issued to the public"),
    "superseded": _l("Superseded by a newer edition"),
    "cancelled": _l("Cancelled"),
}
NOT_A_TIME = _l("Write the date and time like 2026年7月1日 20:05 (Japan time).")
# A notice cancelled before it was issued was withdrawn (取り下げ), not cancelled (取消).
WITHDRAWN = _l("Withdrawn")


def _status_label(status: str, notice: dict | None = None) -> str:
    """The desk's word for a state; with the ``notice`` (its JSON), a withdrawn draft
    (取り下げ) is told from an issued notice that was cancelled (取消)."""
    if status == "cancelled" and notice is not None and not notice.get("published_at"):
        return str(WITHDRAWN)
    label = STATUS_LABELS.get(status)
    return str(label) if label is not None else status


def _form_values(form) -> dict:
    """What the operator typed, as typed (the page fills the form again from it)."""
    seen: list[str] = []
    for value in form.getlist("shelters"):
        value = value.strip()
        if value and value not in seen:
            seen.append(value)
    return {
        "hazard": form.get("hazard", ""),
        "action": form.get("action", f.ISSUE),
        "level": form.get("level", ""),
        "districts": form.getlist("districts"),
        "reason": form.get("reason", ""),
        "shelters": seen,
        "shelters_suggested": [s for s in form.getlist("shelters_suggested") if s],
        "shelters_reset": form.get("shelters_reset") == "y",
        "issued_at": form.get("issued_at", "").strip(),
        "exercise": form.get("exercise") == "y",
        "supersedes": form.get("supersedes", "").strip() or None,
    }


def _issued_at(text: str) -> str | None:
    """The time typed in Japanese format (「2026年7月1日 20:05」, 2026/7/1 20:05, ISO …, Japan
    time; ``disaster_ai.web.times``) → ISO 8601 with ``+09:00``; empty → None (the service
    uses now)."""
    from disaster_ai.web.times import parse_local_datetime

    try:
        moment = parse_local_datetime(text)
    except ValueError:
        raise base.NoticeError(422, "invalid_time", str(NOT_A_TIME), "issued_at") from None
    return None if moment is None else moment.isoformat()


def _chosen_shelters(values: dict) -> list[str] | None:
    """The operator's shelters, or None to let the app suggest: nothing ticked, the reset
    asked for, or exactly the app's last suggestion ticked (then the suggestion follows the
    districts and the hazard)."""
    chosen = values["shelters"]
    if values["shelters_reset"] or not chosen:
        return None
    suggested = values["shelters_suggested"]
    if suggested and set(chosen) == set(suggested):
        return None
    return chosen


def _scenario(values: dict) -> dict:
    """The service's scenario from the form's values (NoticeError on a bad time or a bad
    notice number to supersede)."""
    supersedes = values["supersedes"]
    if supersedes is not None and not (supersedes.isascii() and supersedes.isdigit()):
        raise base.NoticeError(
            422,
            "not_in_force",
            _("Notice %(id)s is not an issued notice in force.", id=supersedes),
            "supersedes",
        )
    return {
        "hazard": values["hazard"],
        "action": values["action"] or f.ISSUE,
        "level": values["level"],
        "districts": values["districts"],
        "reason": values["reason"],
        "shelters": _chosen_shelters(values),
        "issued_at": _issued_at(values["issued_at"]),
        "exercise": values["exercise"],
        "supersedes": values["supersedes"],
    }


def _fingerprint(values: dict, result: dict) -> str:
    """What a preview showed: the typed scenario and the shelters it named. Save compares it
    with what it would store, so it stores exactly what was previewed."""
    import hashlib
    import json

    shown = {
        key: values[key]
        for key in ("hazard", "action", "level", "reason", "issued_at", "exercise", "supersedes")
    }
    shown["districts"] = sorted(values["districts"])
    shown["shelters"] = [s["key"] for s in result.get("shelters") or []]
    raw = json.dumps(shown, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _layer_shelters() -> list[tuple[str, str]]:
    try:
        layers = reference.reference_layers(db())
    except base.NoticeError:
        return []
    frame = layers.shelters
    if frame is None or not len(frame):
        return []
    return sorted(
        zip((str(k) for k in frame["key"]), (str(n) for n in frame["name"]), strict=True),
        key=lambda item: item[1],
    )


def _shelter_choice(values: dict, result: dict | None) -> dict | None:
    """The shelters fieldset (after a preview): the shelters the notice names, ticked; the app's
    unticked suggestions; any other shelter of the layer to add. None before a preview."""
    if result is None and not values["shelters"] and not values["shelters_suggested"]:
        return None
    if values.get("action") == f.LIFT:  # a 解除 names no shelter
        return {
            "lift": True,
            "items": [],
            "others": [],
            "suggested": [],
            "fingerprint": _fingerprint(values, result) if result is not None else "",
        }
    everything = _layer_shelters()
    names = dict(everything)
    items: list[dict] = []
    if result is not None:
        shown = result.get("shelters") or []
        operator = any(s.get("chosen_by") == "operator" for s in shown)
        suggested = values["shelters_suggested"] if operator else [s["key"] for s in shown]
        for s in shown:
            items.append({"key": s["key"], "name": s["name"], "checked": True, "why": s["why"]})
    else:  # refused: everything the operator ticked stays ticked, known or not
        suggested = values["shelters_suggested"]
        for key in values["shelters"]:
            items.append({"key": key, "name": names.get(key, key), "checked": True, "why": ""})
    listed = {item["key"] for item in items}
    for key in suggested:
        if key not in listed:
            items.append(
                {
                    "key": key,
                    "name": names.get(key, key),
                    "checked": False,
                    "why": _("Suggested by the app"),
                }
            )
            listed.add(key)
    return {
        "items": items,
        "others": [(k, n) for k, n in everything if k not in listed],
        "suggested": suggested,
        "fingerprint": _fingerprint(values, result) if result is not None else "",
    }


def _warning_text(code: str) -> str:
    kind, _sep, subject = code.partition(":")
    if kind == "no_shelter_for_hazard":
        return _(
            "No shelter is designated for this hazard: the notice gives the fallback (a nearby safe place or a higher floor indoors)."
        )
    if kind == "no_usable_shelter_for_hazard":
        return _(
            "No designated shelter outside the hazard zone is available: the notice gives the fallback."
        )
    if kind == "shelter_must_open":
        return _("%(name)s is not open yet: open it before issuing.", name=subject)
    if kind == "shelter_not_designated":
        return _("%(name)s is not designated for this hazard.", name=subject)
    if kind == "shelter_in_zone":
        return _("%(name)s lies inside the hazard zone.", name=subject)
    if kind == "reading_guessed":
        return _(
            "%(name)s: the reading is guessed (読みは推定), so its English name may be wrong. "
            "Add the reading (kana) to the layer.",
            name=subject,
        )
    return code


# The fact guard's rules (guard.RULES) and the polished channels, as the desk names them.
RULE_LABELS = {
    "level": _l("Alert level and its name"),
    "districts": _l("District names"),
    "shelters": _l("Shelters named"),
    "time": _l("Time stated"),
    "hazard": _l("Hazard word"),
    "action": _l("Action phrase"),
    "issue_lift": _l("Issue or lift"),
    "forbidden": _l("Discontinued terms"),
    "exercise": _l("Exercise mark"),
    "issuer": _l("Issuing municipality"),
    "length": _l("Length limit"),
    "slots": _l("Empty slots in the text"),
}
CHANNEL_LABELS = {
    "radio": _l("Radio script"),
    "mail_title": _l("Emergency area mail (title)"),
    "mail_body": _l("Emergency area mail (body)"),
    "web_long": _l("Web"),
    "web_short": _l("SNS"),
    "en": _l("English"),
    "easy_ja": _l("Easy Japanese"),
    "cap": _l("CAP 1.2"),
}


def _rule_label(rule: str) -> str:
    label = RULE_LABELS.get(rule)
    return str(label) if label is not None else rule


def _channel_label(channel: str) -> str:
    label = CHANNEL_LABELS.get(channel)
    return str(label) if label is not None else channel


# The channels of a notice in the order the desk shows them, with their text in ``texts``.
CHANNEL_TEXTS = (
    ("radio", lambda t: t.get("radio")),
    ("mail_title", lambda t: (t.get("mail") or {}).get("title")),
    ("mail_body", lambda t: (t.get("mail") or {}).get("body")),
    ("web_long", lambda t: (t.get("web") or {}).get("long")),
    ("web_short", lambda t: (t.get("web") or {}).get("short")),
    ("en", lambda t: t.get("en")),
    ("easy_ja", lambda t: t.get("easy_ja")),
)


def _length_text(count: int, limit: int | None) -> str:
    if limit is None:
        return _("%(count)d characters", count=count)
    if count > limit:
        return _(
            "%(count)d characters: %(over)d over the limit of %(limit)d",
            count=count,
            over=count - limit,
            limit=limit,
        )
    return _("%(count)d of %(limit)d characters", count=count, limit=limit)


def _channel_lengths(texts: dict) -> dict[str, dict]:
    """Each channel's length as the carriers count it (renderers.full_width_length) and its
    limit (the area mail's title and body, SNS; renderers.Limits from the config), with the
    words the desk shows: ``{channel: {label, count, limit, over, text}}``."""
    from disaster_ai.apps.notices.renderers import full_width_length

    limits = drafting.limits()
    limit_of = {
        "mail_title": limits.mail_title,
        "mail_body": limits.mail_body,
        "web_short": limits.web_short,
    }
    out = {}
    for channel, pick in CHANNEL_TEXTS:
        text = pick(texts or {})
        if text is None:
            continue
        count = full_width_length(str(text))
        limit = limit_of.get(channel)
        out[channel] = {
            "label": _channel_label(channel),
            "count": count,
            "limit": limit,
            "over": limit is not None and count > limit,
            "text": _length_text(count, limit),
        }
    return out


# An issued edition, or one a later edition of its chain replaced: its chain may be in force.
PUBLISHED = ("issued", "superseded")


def _chain_in_force(session, notice) -> chains.InForce | None:
    """The chain of ``notice`` while some of its districts are in force (None otherwise)."""
    chain = notice.chain_id or notice.id
    return next(
        (c for c in chains.in_force(session) if (c.head.chain_id or c.head.id) == chain), None
    )


def _level_label(level: int, hazard: str) -> str:
    from disaster_ai.web import levels

    return levels.level_label(level, f.LEVEL_NAMES[level], hazard_word(hazard))


def _remaining(session, notice) -> dict | None:
    """For a 解除 not yet issued: the districts of the chain it lifts that stay in force
    (a partial 解除), with the level that stays; None for a 発令 or when it lifts nothing."""
    if notice.action != f.LIFT or notice.supersedes_id is None:
        return None
    state = next((c for c in chains.in_force(session) if c.head.id == notice.supersedes_id), None)
    if state is None:
        return None
    lifted = {d["key"] for d in notice.districts}
    return {
        "districts": [d["name"] for d in state.districts if d["key"] not in lifted],
        "label": _level_label(state.base.level, state.base.hazard),
        "head_id": state.head.id,
    }


def _shelter_rows(session, notice) -> list[dict]:
    """The shelters a notice names, each with whether it is open now and whether the approver
    confirmed naming it while it is not open."""
    closed = {s["key"] for s in workflow.unopened_shelters(session, notice)}
    if notice.action != f.ISSUE:
        closed = set()
    confirmed = workflow.confirmed_unopened(notice)
    return [
        {
            "key": s["key"],
            "name": s["name"],
            "why": s.get("why", ""),
            "open": s["key"] not in closed,
            "confirmed": s["key"] in confirmed,
        }
        for s in notice.shelters or []
    ]


def _stated_time(notice, step: str) -> dict:
    """The time the texts will state, said for people: for 承認 and 発令 the moment of 発令 (or a
    later time the operator set, kept when it is still ahead); for 取消 the moment of 取消."""
    from disaster_ai.storage.base import now

    draft = notice_time(notice.issued_at)
    if step == "cancel":
        if notice.status == "issued":
            return {"explicit": False, "text": _("The time the cancellation is confirmed (now).")}
        return {"explicit": False, "text": ""}
    if notice.time_explicit and notice.issued_at is not None and notice.issued_at > now():
        return {
            "explicit": True,
            "at": notice.issued_at,
            "text": _(
                "%(time)s, the time the operator set (if it is issued later than that, the "
                "time of issue)",
                time=draft,
            ),
        }
    if notice.action == f.LIFT:
        return {
            "explicit": False,
            "text": _(
                "The time the 解除 button is pressed (the draft's %(time)s is replaced by the "
                "time of issue in every channel).",
                time=draft,
            ),
        }
    return {
        "explicit": False,
        "text": _(
            "The time the 発令 button is pressed (the draft's %(time)s is replaced by the time "
            "of issue in every channel).",
            time=draft,
        ),
    }


def _district_history() -> list[dict]:
    """Per district: the notice in force there now (the highest level) and the whole chain of
    every published notice that named it (in_force.district_history, the one source)."""
    from disaster_ai.storage.base import now
    from disaster_ai.web import levels

    rows = chains.district_history(db(), now())
    for row in rows:
        current = row["in_force"]
        row["in_force"] = (
            {
                "id": current["notice_id"],
                "level": current["level"],
                "label": levels.level_label(
                    current["level"], current["name"], current["hazard_name"]
                ),
                "colours": levels.LEVEL_COLOURS[current["level"]],
                "closed_shelters": current.get("closed_shelters") or [],
            }
            if current is not None
            else None
        )
        row["notices"] = [
            {
                **workflow.notice_json(n, full=False),
                "kind": chains.edition_kind(n),
            }
            for n in row.pop("editions")
        ]
    return rows


@bp.app_template_filter("notice_time")
def notice_time(value) -> str:
    """A notice time for people: 「12月7日（月）午後1時47分」 in Japanese, "7 December 2026,
    13:47 JST" in English (never an ISO string)."""
    from datetime import datetime

    from flask_babel import get_locale

    from disaster_ai.storage.base import JST

    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.astimezone(JST)
    if str(get_locale() or "ja").startswith("en"):
        return f.en_datetime(moment)
    weekday = f.WEEKDAYS_JA[moment.weekday()]
    return f"{moment.month}月{moment.day}日（{weekday}）{f.reading_time(moment)}"


def _field_label(field: str | None) -> str | None:
    label = FIELD_LABELS.get(field or "")
    return str(label) if label is not None else None


def _error_summary(exc: base.NoticeError) -> str:
    """The line at the top of the form: the field by its label (the message is beside it)."""
    label = _field_label(exc.field)
    if label is None:
        return _("The notice could not be drafted: %(message)s", message=exc.message)
    return _("The notice could not be drafted: check %(field)s.", field=label)


def _page(values: dict | None = None, result: dict | None = None, **context):
    from disaster_ai.storage.base import now
    from disaster_ai.web import levels
    from disaster_ai.web.times import input_datetime

    english = str(get_locale() or "ja").startswith("en")

    values = values or {}
    context.setdefault("error", None)
    notices = [workflow.notice_json(n, full=False) for n in workflow.list_notices(db(), limit=100)]
    error = context["error"]
    lift = _lift_context(values)
    choices = _district_choices()
    if lift is not None:  # a 解除 names districts of the chain it lifts, nothing else
        in_chain = set(lift["keys"])
        choices = [c for c in choices if c["key"] in in_chain]
    return render_template(
        "notices/index.html",
        scenario=values,
        result=result,
        lengths=_channel_lengths(result) if result else {},
        lift=lift,
        shelter_choice=_shelter_choice(values, result) if values else None,
        field_error=error.field if error is not None and _field_label(error.field) else None,
        error_summary=_error_summary(error) if error is not None else "",
        hazards=[(code, words[1] if english else words[0]) for code, words in f.HAZARDS.items()],
        levels=f.LEVEL_NAMES,
        reasons={code: list(f.REASONS[code]) for code in f.HAZARDS},
        district_choices=choices,
        notices=notices,
        district_history=_district_history(),
        level_legend=levels.legend(),
        example_time=input_datetime(now()),
        map_url=url_for("situation_web.map_data", layers="hazard_zones,districts")
        if "situation_web" in current_app.blueprints
        and is_allowed(current_actor(), "situation.view")
        else None,
        warning_text=_warning_text,
        rule_label=_rule_label,
        channel_label=_channel_label,
        status_label=_status_label,
        **context,
    )


def _lift_context(values: dict) -> dict | None:
    """The drafting form is a 解除 of a chain in force (action 解除, ``supersedes`` its head):
    that chain, its level and the districts still under it; None otherwise."""
    head = values.get("supersedes")
    if values.get("action") != f.LIFT or not head or not str(head).isdigit():
        return None
    state = next((c for c in chains.in_force(db()) if c.head.id == int(head)), None)
    if state is None:
        return None
    return {
        "head_id": state.head.id,
        "base_id": state.base.id,
        "label": _level_label(state.base.level, state.base.hazard),
        "keys": list(state.keys),
        "names": [d["name"] for d in state.districts],
    }


@bp.get("")
@requires("notices.draft")
def index():
    return _page()


@bp.get("/lift/<int:notice_id>")
@requires("notices.draft")
def lift(notice_id: int):
    """The drafting form prefilled for the 解除 of an issued notice in force: its hazard and
    level, action 解除, every district of its chain still in force chosen (untick some for a
    partial 解除: they stay in force) and the chain's latest edition to supersede."""
    session = db()
    try:
        notice = workflow.get_notice(session, notice_id)
    except base.NoticeError:
        abort(404)
    state = _chain_in_force(session, notice) if notice.status in PUBLISHED else None
    if state is None:
        flash(_("Notice %(id)s is not in force: there is nothing to lift (解除).", id=notice_id))
        return redirect(url_for("notices_web.show", notice_id=notice_id))
    values = {
        "hazard": state.base.hazard,
        "action": f.LIFT,
        "level": str(state.base.level),
        "districts": list(state.keys),
        "reason": "",
        "shelters": [],
        "shelters_suggested": [],
        "shelters_reset": False,
        "issued_at": "",
        "exercise": bool(state.base.exercise),
        "supersedes": str(state.head.id),
    }
    try:
        result = drafting.draft(session, _scenario(values))
    except base.NoticeError as exc:
        return _page(values, error=exc), 422
    return _page(values, result)


@bp.post("/preview")
@requires("notices.draft")
def preview():
    values = _form_values(request.form)
    try:
        result = drafting.draft(db(), _scenario(values))
    except base.NoticeError as exc:
        return _page(values, error=exc), 422
    return _page(values, result)


@bp.post("/preview.json")
@requires("notices.draft")
def preview_json():
    """The live preview: the form's fields in, every channel, the shelters (and the shelters
    fieldset, rendered here like the page's), the warnings (as text in the desk language) and
    the guard report out; 422 with the field, its label and the message on a bad scenario."""
    values = _form_values(request.form)
    try:
        result = drafting.draft(db(), _scenario(values))
    except base.NoticeError as exc:
        return jsonify(
            {
                "ok": False,
                "error": {
                    "field": exc.field,
                    "field_label": _field_label(exc.field),
                    "message": exc.message,
                    "summary": _error_summary(exc),
                },
            }
        ), 422
    result = dict(result)
    result["lengths"] = _channel_lengths(result)
    result["warnings_text"] = [_warning_text(code) for code in result.get("warnings") or []]
    result["districts"] = [d["name"] for d in result["scenario"]["districts"]]
    result["guard"] = _labelled(result["guard"])
    choice = _shelter_choice(values, result)
    result["fingerprint"] = choice["fingerprint"]
    result["shelters_html"] = render_template("notices/_shelters.html", choice=choice)
    return jsonify({"ok": True, "result": result})


def _labelled(report: dict) -> dict:
    """The guard report with each finding's channel and rule named in the desk language."""

    def label(item: dict) -> dict:
        return dict(
            item,
            channel_label=_channel_label(item["channel"]),
            rule_label=_rule_label(item["rule"]),
        )

    return dict(
        report,
        violations=[label(v) for v in report.get("violations", [])],
        warnings=[label(w) for w in report.get("warnings", [])],
    )


@bp.post("/save")
@requires("notices.draft")
def save():
    """Save the previewed scenario. The form carries the preview's fingerprint: when what would
    be stored differs from what was previewed (the form changed since, or the suggested
    shelters did), nothing is saved and the page shows the new preview to check."""
    values = _form_values(request.form)
    session = db()
    try:
        scenario = _scenario(values)
        previewed = request.form.get("preview_fingerprint")
        if previewed is not None:
            result = drafting.draft(session, scenario)
            if previewed != _fingerprint(values, result):
                return _page(values, result, preview_changed=True), 409
        notice = workflow.save_draft(session, scenario, current_actor())
        session.commit()
    except base.NoticeError as exc:
        session.rollback()
        return _page(values, error=exc), 422
    flash(_("Draft saved."))
    return redirect(url_for("notices_web.show", notice_id=notice.id))


@bp.get("/<int:notice_id>")
@requires("notices.draft")
def show(notice_id: int):
    session = db()
    try:
        notice = workflow.get_notice(session, notice_id)
    except base.NoticeError:
        abort(404)
    actor = current_actor()
    approver = is_allowed(actor, "notices.approve")
    jobs = ai_polish.polish_jobs(session, notice.id, limit=50)
    data = workflow.notice_json(notice)
    state = _chain_in_force(session, notice) if notice.status in PUBLISHED else None
    shelters = _shelter_rows(session, notice)
    return render_template(
        "notices/notice.html",
        notice=data,
        lengths=_channel_lengths(data.get("texts") or {}),
        shelters=shelters,
        closed=[s for s in shelters if not s["open"]],
        confirmations=notice.confirmations or [],
        time_explicit=bool(notice.time_explicit),
        remaining=_remaining(session, notice),
        chain_in_force=(
            {"names": [d["name"] for d in state.districts], "head_id": state.head.id}
            if state is not None
            else None
        ),
        can_lift=state is not None and is_allowed(actor, "notices.draft"),
        can_polish=notice.status == "draft"
        and is_allowed(actor, "notices.draft")
        and ai_polish.polish_available(),
        polish_job=jobs[0] if jobs else None,
        polish_running=bool(jobs) and jobs[0].state in ai_polish.ACTIVE_JOB_STATES,
        polish_message=ai_polish.polish_job_message(jobs[0]) if jobs else "",
        polish_report=(notice.guard or {}).get("polish"),
        rule_label=_rule_label,
        channel_label=_channel_label,
        status_label=_status_label,
        can_approve=approver
        and actor.username not in _authors(notice)
        and notice.status == "submitted",
        can_issue=approver and notice.status == "approved",
        can_submit=notice.status == "draft",
        can_withdraw=_may_cancel(actor, notice) and notice.status != "issued",
        can_cancel_issued=_may_cancel(actor, notice) and notice.status == "issued",
        own=actor.username in _authors(notice),
    )


def _authors(notice) -> set[str]:
    """Who may not approve: the author, and for a 提案 the operator who adopted it."""
    return {notice.created_by, (notice.suggestion or {}).get("adopted_by") or notice.created_by}


@bp.post("/<int:notice_id>/polish")
@requires("notices.draft")
def polish(notice_id: int):
    """Queue the AI polish of a draft; the page then shows the job's progress and report."""
    session = db()
    try:
        _job, created = ai_polish.request_polish(session, notice_id, current_actor())
        session.commit()
    except base.NoticeError as exc:
        session.rollback()
        if exc.status == 404:
            abort(404)
        flash(_("Not done: %(message)s", message=exc.message))
    else:
        flash(
            _("AI polish requested: the texts are checked by the fact guard when it is done.")
            if created
            else _("AI polish is already running for this draft.")
        )
    return redirect(url_for("notices_web.show", notice_id=notice_id))


@bp.post("/<int:notice_id>/polish/accept")
@requires("notices.draft")
def accept_polish(notice_id: int):
    """A person accepts the AI-assisted texts of a draft (recorded by name, docs/governance.md)."""
    session = db()
    try:
        ai_polish.accept_polish(session, notice_id, current_actor())
        session.commit()
    except base.NoticeError as exc:
        session.rollback()
        if exc.status == 404:
            abort(404)
        flash(_("Not done: %(message)s", message=exc.message))
    else:
        flash(_("The AI texts are accepted in your name."))
    return redirect(url_for("notices_web.show", notice_id=notice_id))


STEPS = {
    "submit": ("notices.draft", workflow.submit),
    "approve": ("notices.approve", workflow.approve),
    "issue": ("notices.approve", workflow.issue),
    "cancel": ("notices.draft", workflow.cancel),
}
# The steps that need their confirm page (``confirmed=1``): one click never does them.
CONFIRMED_STEPS = ("approve", "issue", "cancel")
# The state each confirmed step starts from (cancel: any state but these).
STEP_FROM = {"approve": ("submitted",), "issue": ("approved",)}
CANCEL_FROM = ("draft", "submitted", "approved", "issued")
REASON_MAX = 500


def _may_cancel(actor, notice) -> bool:
    """A draft or a submitted notice is withdrawn by the desk; an approved or issued one only
    by an approver."""
    if notice.status not in CANCEL_FROM:
        return False
    if notice.status in ("approved", "issued"):
        return is_allowed(actor, "notices.approve")
    return is_allowed(actor, "notices.draft")


def _step_possible(actor, notice, step: str) -> str | None:
    """Why ``step`` cannot be done on ``notice`` by ``actor`` now (a sentence), or None."""
    if step == "cancel":
        if notice.status not in CANCEL_FROM:
            return _("The notice is already %(status)s.", status=_status_label(notice.status))
        if not _may_cancel(actor, notice):
            return _("Only an approver may cancel an approved or issued notice.")
        return None
    if notice.status not in STEP_FROM[step]:
        return _(
            "This step is not possible: the notice is %(status)s.",
            status=_status_label(notice.status),
        )
    if step == "approve" and notice.created_by == actor.username:
        return _("You drafted this notice: another approver must approve it.")
    return None


def _confirm_page(notice, step: str, error: base.NoticeError | None = None, form=None):
    """The confirm page of ``step``: the final key facts and the one button that does it."""
    session = db()
    actor = current_actor()
    data = workflow.notice_json(notice)
    shelters = _shelter_rows(session, notice)
    closed = [s for s in shelters if not s["open"]]
    blocking = [s for s in closed if not s["confirmed"]] if step == "issue" else []
    form = form or {}
    if step == "cancel":
        kind = "cancel_issued" if notice.status == "issued" else "withdraw"
    elif step == "issue":
        kind = "lift" if notice.action == f.LIFT else "issue"
    else:
        kind = "approve"
    error_field = error.field if error is not None else None
    state = _chain_in_force(session, notice) if kind == "cancel_issued" else None
    return render_template(
        "notices/confirm.html",
        chain_in_force=[d["name"] for d in state.districts] if state is not None else None,
        notice=data,
        step=step,
        kind=kind,
        error=error,
        error_field=error_field,
        typed_reason=form.get("confirm_unopened_reason", ""),
        typed_cancel_reason=form.get("reason", ""),
        acknowledged=set(form.get("acknowledge", [])),
        seen=workflow.texts_digest(notice.texts),
        level_label=_level_label(notice.level, notice.hazard),
        shelters=shelters,
        closed=closed,
        blocking=blocking,
        can_open=is_allowed(actor, "situation.edit"),
        remaining=_remaining(session, notice),
        stated_time=_stated_time(notice, step),
        lengths=_channel_lengths(data.get("texts") or {}),
        over_limit=[c for c in _channel_lengths(data.get("texts") or {}).values() if c["over"]],
        channel_label=_channel_label,
        rule_label=_rule_label,
        status_label=_status_label,
    )


@bp.get("/<int:notice_id>/confirm/<step>")
@requires("notices.draft")
def confirm(notice_id: int, step: str):
    """The confirm step of 承認, 発令 (or 解除) and 取り下げ/取消: the page a person reads before
    the one button that does it (that button posts ``confirmed=1`` and, for 承認, the digest
    of the texts shown here)."""
    if step not in CONFIRMED_STEPS:
        abort(404)
    actor = current_actor()
    if not is_allowed(actor, STEPS[step][0]):
        abort(403)
    try:
        notice = workflow.get_notice(db(), notice_id)
    except base.NoticeError:
        abort(404)
    why_not = _step_possible(actor, notice, step)
    if why_not is not None:
        flash(why_not)
        return redirect(url_for("notices_web.show", notice_id=notice_id))
    return _confirm_page(notice, step)


@bp.post("/<int:notice_id>/open-shelter")
@requires("notices.draft")
def open_shelter(notice_id: int):
    """開設する: open a shelter that the notice names (``situation.edit``; the situation app
    audits the change), then back to the confirm page the button was on."""
    from disaster_ai.errors import ApiError

    actor = current_actor()
    if not is_allowed(actor, "situation.edit"):
        abort(403)
    session = db()
    try:
        notice = workflow.get_notice(session, notice_id)
    except base.NoticeError:
        abort(404)
    back = request.form.get("back")
    target = (
        url_for("notices_web.confirm", notice_id=notice_id, step=back)
        if back in ("approve", "issue")
        else url_for("notices_web.show", notice_id=notice_id)
    )
    key = request.form.get("shelter", "").strip()
    named = {s["key"]: s["name"] for s in notice.shelters or []}
    if key not in named:
        flash(_("This notice does not name that shelter: nothing was opened."))
        return redirect(target)
    try:
        base.desk().shelters.set_status(key, is_open=True, actor=actor, session=session)
        session.commit()
    except ApiError as exc:
        session.rollback()
        flash(_("Not done: %(message)s", message=exc.message))
        return redirect(target)
    flash(_("%(name)s is now open (開設).", name=named[key]))
    return redirect(target)


@bp.post("/<int:notice_id>/<step>")
@requires("notices.draft")
def step(notice_id: int, step: str):
    if step not in STEPS:
        abort(404)
    action, func = STEPS[step]
    actor = current_actor()
    if not is_allowed(actor, action):
        abort(403)
    form = request.form
    if step in CONFIRMED_STEPS and (
        form.get("confirmed") != "1" or (step == "approve" and not form.get("seen"))
    ):
        # never in one click: the confirm page first (it posts confirmed=1 and what was seen)
        return redirect(url_for("notices_web.confirm", notice_id=notice_id, step=step), 303)
    session = db()
    try:
        notice = workflow.get_notice(session, notice_id)
    except base.NoticeError:
        abort(404)
    if step == "cancel" and not _may_cancel(actor, notice) and notice.status in CANCEL_FROM:
        abort(403)
    args: list = []
    typed = {
        "acknowledge": form.getlist("acknowledge"),
        "confirm_unopened_reason": form.get("confirm_unopened_reason", "").strip(),
        "reason": form.get("reason", "").strip(),
    }
    if step == "approve":
        args = [typed["acknowledge"], typed["confirm_unopened_reason"] or None, form.get("seen")]
    elif step == "cancel":
        args = [typed["reason"]]
    try:
        if step == "cancel" and notice.status == "issued" and not typed["reason"]:
            raise base.NoticeError(
                422,
                "reason_required",
                _("Say why the issued notice is cancelled: the reason is kept and audited."),
                "reason",
            )
        too_long = [k for k in ("confirm_unopened_reason", "reason") if len(typed[k]) > REASON_MAX]
        if too_long:
            raise base.NoticeError(
                422,
                "too_long",
                _("Write the reason in %(max)d characters or fewer.", max=REASON_MAX),
                "confirm_unopened_reason" if too_long[0] != "reason" else "reason",
            )
        func(session, notice_id, actor, *args)
        session.commit()
    except base.NoticeError as exc:
        if exc.persist:  # e.g. the notice went back for approval: keep that
            session.commit()
        else:
            session.rollback()
        if exc.status == 404:
            abort(404)
        if step in CONFIRMED_STEPS:
            session.expire_all()
            notice = workflow.get_notice(session, notice_id)
            if _step_possible(actor, notice, step) is None:
                # still to do: the confirm page again, with the message and what was typed
                return _confirm_page(notice, step, exc, typed), exc.status
        flash(_("Not done: %(message)s", message=exc.message))
        return redirect(url_for("notices_web.show", notice_id=notice_id))
    done = {
        "submit": _("Submitted for approval."),
        "approve": _("Approved."),
        "issue": _("Issued: the texts state the time of issue."),
        "cancel": _("Cancelled (取消): the CAP Cancel is ready.")
        if notice.status == "cancelled" and notice.published_at is not None
        else _("Withdrawn (取り下げ)."),
    }
    flash(done[step])
    return redirect(url_for("notices_web.show", notice_id=notice_id))
