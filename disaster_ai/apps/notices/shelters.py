"""Which shelters a notice names: the suggestion (nearest open, designated, outside the
zone) or the operator's own choice, with warnings.
"""

from __future__ import annotations

import pandas as pd
from flask_babel import gettext as _

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices.base import NoticeError, app_config, desk
from disaster_ai.apps.notices.reference import match_names
from disaster_ai.apps.notices.scenario import hazard_word, zone_hazard


def site_kind(kind: str) -> str:
    """The kind of site in words: 指定緊急避難場所 (a place to flee to) or 指定避難所 (a place
    to stay); 避難所 when the layer does not say."""
    if kind == "emergency_site":
        return _("designated emergency evacuation site (指定緊急避難場所)")
    if kind == "designated_shelter":
        return _("designated shelter (指定避難所)")
    return _("shelter")


def suggest_shelters(layers, status: pd.DataFrame, hazard: str, districts: list[int]) -> dict:
    """The nearest shelter for each target district that is open, designated for the hazard and
    outside that hazard's zone. When none is open, the nearest designated one outside the zone
    is proposed with ``must_open`` (NOTICE_SUGGEST_CLOSED_SHELTERS; the desk opens it as part
    of the order). When nothing is designated for the hazard, no shelter: the fallback."""
    config = app_config()
    allow_closed = bool(config.get("NOTICE_SUGGEST_CLOSED_SHELTERS", True))
    assessment = desk().shelters.assessment(layers, status, zone_hazard(hazard))
    usable = (assessment["state"] == "usable").to_numpy()
    safe_closed = (
        assessment["designated"].to_numpy(dtype=bool)
        & ~assessment["in_zone"].to_numpy(dtype=bool)
        & ~assessment["is_open"].to_numpy(dtype=bool)
    )
    nearest_open = desk().shelters.nearest(layers, usable)
    nearest_closed = desk().shelters.nearest(layers, safe_closed)
    chosen: dict[int, dict] = {}
    warnings: list[str] = []
    hazard_ja = hazard_word(hazard)
    if zone_hazard(hazard) != hazard:  # e.g. ため池決壊 judged by the inland-flood layers
        hazard_ja = _(
            "%(hazard)s (judged as %(zone)s)",
            hazard=hazard_ja,
            zone=hazard_word(zone_hazard(hazard)),
        )
    designated_any = bool(assessment["designated"].any())
    for position in districts:
        district = layers.districts.iloc[position]
        pick = int(nearest_open.loc[position, "shelter"])
        distance = nearest_open.loc[position, "distance_m"]
        must_open = False
        if pick < 0 and allow_closed:
            pick = int(nearest_closed.loc[position, "shelter"])
            distance = nearest_closed.loc[position, "distance_m"]
            must_open = pick >= 0
        if pick < 0:
            continue
        entry = chosen.setdefault(pick, {"districts": [], "distance_m": [], "must_open": must_open})
        entry["districts"].append(str(district["key"]))
        entry["distance_m"].append(float(distance))
    shelters = []
    for pick, entry in chosen.items():
        row = assessment.iloc[pick]
        served = [
            str(layers.districts.loc[layers.districts["key"] == k, "name"].iloc[0])
            for k in entry["districts"]
        ]
        # say exactly what was checked: the kind of site, and the zone only where a zone
        # layer exists for the hazard (never 「想定区域外」 when nothing was checked)
        checked = bool(row["zone_checked"]) if "zone_checked" in row else True
        why_text = (
            _(
                "Nearest %(kind)s designated for %(hazard)s, not open yet, for %(districts)s "
                "(%(distance)s m; %(zone)s)"
            )
            if entry["must_open"]
            else _(
                "Nearest open %(kind)s designated for %(hazard)s, for %(districts)s "
                "(%(distance)s m; %(zone)s)"
            )
        )
        why = why_text % {
            "kind": site_kind(row.get("kind", "")),
            "hazard": hazard_ja,
            "districts": "、".join(served),
            "distance": round(min(entry["distance_m"])),
            "zone": _("outside the hazard zone")
            if checked
            else _("no hazard-zone data for this hazard: not checked"),
        }
        if entry["must_open"]:
            warnings.append(f"shelter_must_open:{row['name']}")
        shelters.append(
            f.ShelterChoice(
                key=str(row["key"]),
                name=str(row["name"]),
                name_kana=str(row["name_kana"] or ""),
                districts=tuple(entry["districts"]),
                why=why,
                must_open=entry["must_open"],
                distance_m=round(min(entry["distance_m"]), 1),
            )
        )
    if not shelters:
        warnings.append(
            "no_shelter_for_hazard" if not designated_any else "no_usable_shelter_for_hazard"
        )
    return {"shelters": shelters, "warnings": warnings}


def operator_shelters(layers, status, hazard: str, wanted: list[str]) -> dict:
    """The operator's own choice: every name must exist (nothing is invented); a choice that is
    not designated for the hazard, inside its zone or closed gives a warning."""
    positions, unknown = match_names(layers.shelters, wanted, "")
    if unknown:
        raise NoticeError(
            422,
            "unknown_shelter",
            _("Unknown shelter(s): %(names)s", names="、".join(unknown)),
            "shelters",
            unknown=unknown,
        )
    assessment = desk().shelters.assessment(layers, status, zone_hazard(hazard))
    shelters, warnings = [], []
    for pick in positions:
        row = assessment.iloc[pick]
        notes = []
        if not row["designated"]:
            notes.append(_("not designated for this hazard"))
            warnings.append(f"shelter_not_designated:{row['name']}")
        if row["in_zone"]:
            notes.append(_("inside the hazard zone"))
            warnings.append(f"shelter_in_zone:{row['name']}")
        if not row["is_open"]:
            notes.append(_("not open yet"))
            warnings.append(f"shelter_must_open:{row['name']}")
        shelters.append(
            f.ShelterChoice(
                key=str(row["key"]),
                name=str(row["name"]),
                name_kana=str(row["name_kana"] or ""),
                why=_("Chosen by the operator") + (" (" + "; ".join(notes) + ")" if notes else ""),
                must_open=not bool(row["is_open"]),
                chosen_by="operator",
            )
        )
    return {"shelters": shelters, "warnings": warnings}


def shelter_json(shelter: f.ShelterChoice) -> dict:
    return {
        "key": shelter.key,
        "name": shelter.name,
        "name_kana": shelter.name_kana,
        "districts": list(shelter.districts),
        "why": shelter.why,
        "must_open": shelter.must_open,
        "distance_m": shelter.distance_m,
        "chosen_by": shelter.chosen_by,
    }
