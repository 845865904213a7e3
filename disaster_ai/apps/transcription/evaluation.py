"""Scoring call triage against a labelled corpus (used by benchmarks/eval_triage.py and the
tests' per-split floors; a municipality can score its own labelled calls the same way).

A corpus row is a dict: ``text``, ``category`` (the main one), ``also`` (further incidents in
the same call), ``life`` (bool), ``place`` (the layer's name the call should resolve to, or
None), ``people``, ``vulnerable``, ``callback``. Figures per set:

- category accuracy: the main category proposed is the labelled one (for a call with several
  incidents, any of its labelled categories);
- place accuracy: the resolved place is the labelled one (None when the call names none or an
  unresolvable one: a guess there counts as wrong); false places: a place resolved where the
  label has none or another one (the operator would be sent elsewhere); top 3: the labelled
  place among the 3 candidates kept for a one-click choice (or none resolved where none is
  labelled);
- life threat: recall = labelled calls flagged (yes or 要確認) / labelled calls; false alarms
  = unlabelled calls flagged / unlabelled calls; also the recall of ``yes`` alone;
- proposals: labelled further incidents proposed / labelled further incidents;
- people, vulnerable, callback: exact agreement.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from disaster_ai.apps.transcription import facts


@dataclass
class Figures:
    n: int = 0
    category_ok: int = 0
    place_ok: int = 0
    place_named: int = 0  # rows whose label names a place
    place_named_ok: int = 0
    place_wrong_guess: int = 0  # a place resolved where another (or none) was right
    place_top3: int = 0  # the labelled place among the candidates (or nothing resolved for none)
    life_pos: int = 0
    life_flagged: int = 0
    life_yes: int = 0
    life_neg: int = 0
    false_alarms: int = 0
    also_total: int = 0
    also_found: int = 0
    people_ok: int = 0
    vulnerable_ok: int = 0
    callback_ok: int = 0
    confusion: Counter = field(default_factory=Counter)
    misses: list = field(default_factory=list)

    def add(self, row: dict, found: facts.CallFacts) -> None:
        self.n += 1
        labels = {row["category"], *row.get("also", [])}
        category_ok = found.category == row["category"] or (
            bool(row.get("also")) and found.category in labels
        )
        self.category_ok += category_ok
        self.confusion[(row["category"], found.category)] += 1
        got = found.place.name if found.place is not None else None
        want = row.get("place")
        self.place_ok += got == want
        if want is not None:
            self.place_named += 1
            self.place_named_ok += got == want
        if got is not None and got != want:
            self.place_wrong_guess += 1
        if want is None:
            self.place_top3 += got is None
        else:
            self.place_top3 += want in {c.name for c in found.candidates} | {got}
        if row.get("life"):
            self.life_pos += 1
            self.life_flagged += found.life_threat
            self.life_yes += found.life_threat_level == "yes"
        else:
            self.life_neg += 1
            self.false_alarms += found.life_threat
        for extra in row.get("also", []):
            self.also_total += 1
            self.also_found += extra in {p.category for p in found.proposals} | {found.category}
        self.people_ok += found.people == row.get("people")
        self.vulnerable_ok += found.vulnerable == bool(row.get("vulnerable"))
        self.callback_ok += found.callback_requested == bool(row.get("callback"))
        if not category_ok or got != want or found.life_threat != bool(row.get("life")):
            self.misses.append(
                {
                    "id": row.get("id"),
                    "text": row["text"],
                    "category": [row["category"], found.category],
                    "place": [want, got],
                    "life": [bool(row.get("life")), found.life_threat_level],
                }
            )

    def ratio(self, good: int, total: int) -> float | None:
        return round(good / total, 4) if total else None

    def summary(self) -> dict:
        return {
            "n": self.n,
            "category": self.ratio(self.category_ok, self.n),
            "place": self.ratio(self.place_ok, self.n),
            "place_named": self.ratio(self.place_named_ok, self.place_named),
            "place_wrong_guesses": self.place_wrong_guess,
            "false_place_rate": self.ratio(self.place_wrong_guess, self.n),
            "place_top3": self.ratio(self.place_top3, self.n),
            "life_recall": self.ratio(self.life_flagged, self.life_pos),
            "life_recall_yes": self.ratio(self.life_yes, self.life_pos),
            "life_positives": self.life_pos,
            "false_alarm_rate": self.ratio(self.false_alarms, self.life_neg),
            "false_alarms": self.false_alarms,
            "negatives": self.life_neg,
            "proposals_recall": self.ratio(self.also_found, self.also_total),
            "people": self.ratio(self.people_ok, self.n),
            "vulnerable": self.ratio(self.vulnerable_ok, self.n),
            "callback": self.ratio(self.callback_ok, self.n),
        }


def load_corpus(path: Path) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def evaluate(
    rows, gazetteers: dict, text_of=lambda row: row["text"], check_of=lambda row: None
) -> Figures:
    """Score ``rows``; ``gazetteers`` maps a row's ``muni`` to its gazetteer; ``check_of(row)``
    gives the row's ``place_check`` (the acoustic check of a clip) or None."""
    figures = Figures()
    for row in rows:
        gazetteer = gazetteers.get(row.get("muni"))
        found = facts.extract(
            text_of(row), gazetteer, facts.DEFAULT_THRESHOLD, place_check=check_of(row)
        )
        figures.add(row, found)
    return figures


def confusion_table(confusion: Counter, categories) -> str:
    """A Markdown confusion matrix: labelled category per row, proposed per column (only the
    categories that occur)."""
    used = [c for c in categories if any(c in key for key in confusion)]
    short = {c: c.replace("_", " ")[:10] for c in used}
    lines = ["| labelled \\ proposed | " + " | ".join(short[c] for c in used) + " |"]
    lines.append("|---" * (len(used) + 1) + "|")
    for want in used:
        cells = [str(confusion.get((want, got), "") or "·") for got in used]
        lines.append(f"| {want} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _places_from_file(path: Path) -> list:
    """Town names from a Geolonia town list: its GeoJSON (features with town and koaza) or its
    JSON array of {town, koaza, lat, lng}. 小字 (koaza) entries are left out: the places layer
    is the 大字・町丁目 level."""
    from disaster_ai.apps.transcription.types import PlaceName

    data = json.loads(path.read_text(encoding="utf-8-sig"))
    rows = [f["properties"] for f in data["features"]] if isinstance(data, dict) else data
    names = []
    for row in rows:
        name = (row.get("town") or "") + (row.get("koaza") or "")
        if row.get("koaza") and isinstance(data, list):
            continue
        if name and name not in names:
            names.append(name)
    return [PlaceName(name, f"place-{i}", "town") for i, name in enumerate(names)]


def _shelters_from_file(path: Path) -> list:
    """Shelters from a GeoJSON: the layer's ``name`` / ``name_kana`` or GSI's 施設・場所名."""
    from disaster_ai.apps.transcription.types import PlaceName

    data = json.loads(path.read_text(encoding="utf-8-sig"))
    result = []
    for i, feature in enumerate(data["features"]):
        props = feature.get("properties") or {}
        name = props.get("name") or props.get("施設・場所名") or ""
        coordinates = (feature.get("geometry") or {}).get("coordinates") or [None, None]
        kana = props.get("name_kana")
        if name:
            result.append(
                PlaceName(
                    name, f"shelter-{i}", "shelter", (kana,) if kana else (), *coordinates[:2]
                )
            )
    return result


def gazetteer_from_files(towns: Path, shelters: Path | None, municipality: str):
    """A gazetteer from open-data files, as the places and shelters layers would give it."""
    places = _places_from_file(towns) + (_shelters_from_file(shelters) if shelters else [])
    return facts.build_gazetteer(places, municipality)
