"""An independent set of realistic edits of notice texts, for the fact guard's benchmark.

The rule-derived set of ``bench_notices.py`` corrupts a text by undoing exactly what the guard
looks for, so its recall is 100 % by construction. This set is made by another procedure: it
edits the *rendered* text the way an operator or a language model does (retyping a time,
shortening a name, picking the district next door, rewording a sentence), and labels each edit
by what it does to the notice, decided before looking at the guard:

- ``change``: a reader would get a different or a missing fact (flag it);
- ``faithful``: the same facts, said differently (let it pass);
- ``over_limit``: faithful, but the edit makes a mail body or SNS post longer than the
  channel's limit (a flag is right; counted apart).

Nothing here imports the guard or copies its patterns. The drafts come from two district
layers of the sample data:

- ``jichikai``: the 35 自治会 polygons (``yaizu_jichikai_areas.geojson``);
- ``towns``: the 大字・町丁目 of ``yaizu_town_points_geolonia.geojson`` (140 names, many with
  丁目). The sample has only a point per town, so each town's area is its Voronoi cell clipped to
  the city boundary: good enough for "the town next door", which is all this set needs.

Districts of one draft are a cluster of neighbours (as a real notice names them), the
neighbour swapped in by an edit is a geographic neighbour (cells or polygons that touch), and a
swapped shelter is the nearest other shelter.

Labelling decisions (documented in docs/notices.md, "Benchmark"):

- a time in full-width digits, in kanji numerals (午後八時五分), in 24-hour form (20時5分), or with
  the right date added, is faithful; 午前↔午後, a dropped 午前/午後 (「8時5分」 for 20:05 reads as
  morning), a retyped minute or a wrong date is a change;
- a district name with a part dropped (丁目, 第N, the 自治会 suffix) is a change: 「本町」 is not
  「本町一丁目」, and 「高新田」 is the 大字, not the 自治会's area; 「焼津第六自治会」 for 「焼津第6自治会」
  or 「本町1丁目」 for 「本町一丁目」 is faithful;
- a shortened shelter name (「小川中」, 「文化会館」) is a change: the destination is named as in
  the designated list, which is what residents and helpers look up;
- 「○○ほかN地区」 is faithful on the two channels that shorten (mail body, SNS) and a change
  elsewhere (residents of the unnamed districts are not told);
- a level name replaced by a non-guideline word (避難命令) even once is a change; a level word
  without its number, or without the level at all, is a change;
- reordered sentences or list items, other separators (・, と), joined lines, dropped
  furigana, a reworded sentence that keeps the action, 「焼津市役所」 for 「焼津市」 are faithful;
- in a partial 解除: dropping the sentence about the districts that stay in force, or listing them
  as lifted, is a change; a 解除 text that starts with an issue-looking headline is a change.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import shapely
from shapely.geometry import MultiPoint, Point, shape

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices.reference import district_ring
from disaster_ai.apps.notices.renderers import Limits, district_en, full_width_length
from disaster_ai.storage.base import JST

CHANGE, FAITHFUL, OVER_LIMIT = "change", "faithful", "over_limit"
CHANNELS = ("radio", "web_long", "web_short", "mail_body", "en", "easy_ja")
SHORTENING = ("mail_body", "web_short")
KANJI = "〇一二三四五六七八九"


@dataclass
class Layer:
    name: str
    districts: list  # f.District
    centroid: dict  # name → (lon, lat)
    neighbours: dict  # name → [names], nearest first


@dataclass
class Sample:
    layers: dict  # name → Layer
    shelters: list  # f.ShelterChoice
    shelter_xy: dict  # shelter name → (lon, lat)


def load(root: Path) -> Sample:
    yaizu = root / "sample_data" / "yaizu"

    def read(name):
        return json.loads((yaizu / name).read_text(encoding="utf-8"))

    boundary = shape(read("yaizu_city_boundary.geojson")["features"][0]["geometry"])
    layers = {}
    # 自治会 polygons
    feats = read("yaizu_jichikai_areas.geojson")["features"]
    geoms = {ft["properties"]["name"]: shape(ft["geometry"]) for ft in feats}
    layers["jichikai"] = _layer("jichikai", geoms)
    # 大字・町丁目: Voronoi cells of the representative points, clipped to the city
    points: dict[str, list[Point]] = {}
    for ft in read("yaizu_town_points_geolonia.geojson")["features"]:
        p = ft["properties"]
        points.setdefault(p["town"], []).append(Point(p["lng"], p["lat"]))
    all_points = [pt for pts in points.values() for pt in pts]
    cells = shapely.voronoi_polygons(MultiPoint(all_points), extend_to=boundary.envelope)
    town_geoms: dict[str, list] = {}
    for cell in cells.geoms:
        for town, pts in points.items():
            if any(cell.contains(pt) for pt in pts):
                town_geoms.setdefault(town, []).append(cell.intersection(boundary))
                break
    geoms = {town: shapely.union_all(parts) for town, parts in town_geoms.items()}
    layers["towns"] = _layer("towns", geoms)
    shelters, shelter_xy = [], {}
    for ft in read("yaizu_designated_shelters.geojson")["features"]:
        p = ft["properties"]
        shelters.append(
            f.ShelterChoice(
                key=f"designated-{p['no']}", name=p["name"], name_kana=p.get("name_kana") or ""
            )
        )
        shelter_xy[p["name"]] = (p["lon"], p["lat"])
    return Sample(layers, shelters, shelter_xy)


def _layer(name, geoms: dict) -> Layer:
    names = list(geoms)
    districts = [
        f.District(key=f"{name}-{i}", name=n, ring=district_ring(geoms[n]))
        for i, n in enumerate(names)
    ]
    centroid = {
        n: (g.representative_point().x, g.representative_point().y) for n, g in geoms.items()
    }
    tree = shapely.STRtree([geoms[n].buffer(2e-4) for n in names])
    neighbours = {}
    for i, n in enumerate(names):
        hits = [
            names[j] for j in tree.query(geoms[n].buffer(2e-4), predicate="intersects") if j != i
        ]
        x, y = centroid[n]
        hits.sort(key=lambda m: (centroid[m][0] - x) ** 2 + (centroid[m][1] - y) ** 2)
        neighbours[n] = hits
    return Layer(name, districts, centroid, neighbours)


# --- drafts -------------------------------------------------------------------------------


def drafts(sample: Sample, rng: random.Random, n: int):
    """``n`` notices as a desk writes them: a cluster of neighbouring districts, the nearest
    shelters, 発令 / full 解除 / partial 解除, any hour of July 2026."""
    hazards = list(f.HAZARDS)
    for i in range(n):
        layer = sample.layers["jichikai" if i % 2 == 0 else "towns"]
        by_name = {d.name: d for d in layer.districts}
        start = rng.choice(layer.districts).name
        cluster = [start]
        for m in layer.neighbours[start]:
            if len(cluster) >= rng.randint(1, 4):
                break
            cluster.append(m)
        kind = rng.choices(["issue", "lift", "partial"], weights=[5, 2, 3])[0]
        remaining: list[str] = []
        if kind == "partial":
            pool = [m for c in cluster for m in layer.neighbours[c] if m not in cluster]
            remaining = list(dict.fromkeys(pool))[: rng.randint(1, 2)]
            if not remaining:
                kind = "lift"
        x = sum(layer.centroid[c][0] for c in cluster) / len(cluster)
        y = sum(layer.centroid[c][1] for c in cluster) / len(cluster)
        nearest = sorted(
            sample.shelters,
            key=lambda s: (
                (sample.shelter_xy[s.name][0] - x) ** 2 + (sample.shelter_xy[s.name][1] - y) ** 2
            ),
        )
        shelters = () if kind != "issue" else tuple(nearest[: rng.choice([0, 1, 1, 2, 2])])
        hazard = rng.choice(hazards)
        at = datetime(
            2026, 7, rng.randint(1, 30), rng.randint(0, 23), rng.randint(0, 59), tzinfo=JST
        )
        facts = f.NoticeFacts(
            hazard=hazard,
            action=f.ISSUE if kind == "issue" else f.LIFT,
            level=rng.choice([3, 4, 4, 5]),
            districts=tuple(by_name[c] for c in cluster),
            remaining=tuple(by_name[r] for r in remaining),
            issued_at=at,
            issuer="焼津市",
            issuer_en="Yaizu City",
            shelters=shelters,
            reason=rng.choice([*f.REASONS[hazard], ""]),
            exercise=rng.random() < 0.2,
            jis_code="22212",
            lg_code="222127",
            identifier="JP-222127-2026-0100",
            sender="bousai@city.yaizu.example.lg.jp",
            references=("bousai@city.yaizu.example.lg.jp,JP-222127-2026-0099,"
                        "2026-07-01T17:30:00+09:00",) if kind != "issue" else (),
        )  # fmt: skip
        yield layer, facts


# --- helpers ------------------------------------------------------------------------------


def kanji_number(n: int) -> str:
    if n < 10:
        return KANJI[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else KANJI[tens]) + "十" + (KANJI[ones] if ones else "")


def kanji_value(digits: str) -> int:
    if "十" in digits:
        tens, ones = digits.split("十")
        return (KANJI.index(tens) if tens else 1) * 10 + (KANJI.index(ones) if ones else 0)
    return KANJI.index(digits)


def full_width(text: str) -> str:
    return text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})


def time_forms(at: datetime):
    """The stated time as the templates write it (ja reading form, en HH:MM)."""
    at = at.astimezone(JST)
    return f.reading_time(at), at.strftime("%H:%M")


def _names_clash(name: str, others) -> bool:
    """True when ``name`` is part of another name in the text (a plain replace would hit both)."""
    return any(name != o and name in o for o in others)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=。)|(?<=\n)", text) if s]


def _drop_sentences(text: str, names) -> str:
    kept = [s for s in _sentences(text) if not any(n in s for n in names)]
    return "".join(kept)


def shorten_district(name: str) -> str | None:
    m = re.match(r"^(.+?)[一二三四五六七八九十]+丁目$", name)
    if m:
        return m.group(1)
    m = re.match(r"^(.+?)第\d+(自治会)$", name)
    if m:
        return m.group(1) + m.group(2)
    if name.endswith("自治会") and len(name) > 3:
        return name[: -len("自治会")]
    return None


def numeral_variant(name: str) -> str | None:
    m = re.match(r"^(.*第)(\d+)(.*)$", name)
    if m:
        return m.group(1) + kanji_number(int(m.group(2))) + m.group(3)
    m = re.match(r"^(.+?)([一二三四五六七八九十]+)丁目$", name)
    if m:
        return f"{m.group(1)}{kanji_value(m.group(2))}丁目"
    return None


SHELTER_SHORTENINGS = (
    (r"^(.+)地域交流センター$", r"\1交流センター"),
    (r"^(.+)コミュニティ防災センター$", r"\1防災センター"),
    (r"^(.+)中学校$", r"\1中"),
    (r"^(.+)小学校$", r"\1小"),
    (r"^(.+)高等学校$", r"\1高校"),
    (r"^.+?(文化会館|体育館|科学館)$", r"\1"),
)


def shorten_shelter(name: str) -> str | None:
    for pattern, repl in SHELTER_SHORTENINGS:
        if re.match(pattern, name):
            return re.sub(pattern, repl, name)
    return None


UNOFFICIAL = {3: "高齢者避難", 4: "避難命令", 5: "緊急避難"}
UNOFFICIAL_EN = {3: "Elderly Evacuation", 4: "Evacuation Order", 5: "Emergency Evacuation"}
WEAK_ACTION = "状況に応じて、避難を検討してください。"
WEAK_ACTION_EN = "Consider evacuating if necessary."
WEAK_ACTION_EASY = "にげる 準備(じゅんび)を して ください。"
WORDING = (
    ("に関する", "による"),
    ("を発令しました", "を出しました"),
    ("してください。", "して下さい。"),
    ("今後の情報に注意してください", "今後の情報にご注意ください"),
    ("引き続き、", "引き続き"),
    ("危険な場所にいる方は、", "危険な場所にいる人は、"),
)


# --- the edits ----------------------------------------------------------------------------


def edits(text: str, facts: f.NoticeFacts, channel: str, layer: Layer, sample: Sample, rng):
    """Every applicable edit of one channel's text: ``[(kind, label, edited)]``."""
    en = channel == "en"
    out: list[tuple[str, str, str]] = []
    limits = Limits()
    limit = {"mail_body": limits.mail_body, "web_short": limits.web_short}.get(channel)

    def add(kind, label, edited):
        if edited and edited != text:
            if label == FAITHFUL and limit is not None and full_width_length(edited) > limit:
                # the same facts, but too long for the channel: a flag is right (length)
                label = OVER_LIMIT
            out.append((kind, label, edited))

    when_ja, when_en = time_forms(facts.issued_at)
    at = facts.issued_at.astimezone(JST)
    targets = [d.name for d in facts.districts]
    remaining = [d.name for d in facts.remaining]
    shelters = [s.name for s in facts.shelters]
    names_in_text = targets + remaining + shelters + [facts.issuer]

    # --- time ---
    if en:
        if when_en in text:
            other = (at + timedelta(hours=12)).strftime("%H:%M")
            add("am_pm_swapped", CHANGE, text.replace(when_en, other))
            retyped = (at + timedelta(minutes=rng.choice([1, 10, 15, 50]))).strftime("%H:%M")
            add("time_retyped_wrong", CHANGE, text.replace(when_en, retyped))
            twelve = f"{at.hour % 12 or 12}:{at.minute:02d} {'a.m.' if at.hour < 12 else 'p.m.'}"
            add("time_12h", FAITHFUL, text.replace(when_en, twelve))
        date = at.strftime("%-d %B %Y")
        if date in text:
            add(
                "date_wrong",
                CHANGE,
                text.replace(date, (at + timedelta(days=1)).strftime("%-d %B %Y")),
            )
    elif when_ja in text:
        swapped = ("午前" if when_ja.startswith("午後") else "午後") + when_ja[2:]
        add("am_pm_swapped", CHANGE, text.replace(when_ja, swapped))
        if when_ja.startswith("午後"):
            add("am_pm_dropped", CHANGE, text.replace(when_ja, when_ja[2:]))
        retyped = f.reading_time(at + timedelta(minutes=rng.choice([1, 10, 15, 50])))
        add("time_retyped_wrong", CHANGE, text.replace(when_ja, full_width(retyped)))
        add("time_full_width", FAITHFUL, text.replace(when_ja, full_width(when_ja)))
        hour12 = at.hour % 12
        kanji = f"{when_ja[:2]}{kanji_number(hour12)}時" + (
            f"{kanji_number(at.minute)}分" if at.minute else ""
        )
        add("time_kanji", FAITHFUL, text.replace(when_ja, kanji))
        h24 = f"{at.hour}時" + (f"{at.minute}分" if at.minute else "")
        add("time_24h", FAITHFUL, text.replace(when_ja, h24))
        add("date_added", FAITHFUL, text.replace(when_ja, f"{at.month}月{at.day}日{when_ja}", 1))
        wrong = at + timedelta(days=1)
        add(
            "date_wrong", CHANGE, text.replace(when_ja, f"{wrong.month}月{wrong.day}日{when_ja}", 1)
        )

    # --- districts ---
    by_name = {d.name: d for d in layer.districts}
    said = district_en if en else (lambda d: d.name)
    pick = rng.choice(facts.districts)
    target = said(pick)
    if not _names_clash(target, [said(d) for d in facts.districts + facts.remaining] + shelters):
        short = None if en else shorten_district(target)
        if short:
            add("district_part_dropped", CHANGE, text.replace(target, short))
        variant = None if en else numeral_variant(target)
        if variant:
            add("district_numeral_variant", FAITHFUL, text.replace(target, variant))
        free = [m for m in layer.neighbours[pick.name] if m not in targets + remaining]
        if free:
            neighbour = said(by_name[free[0]])
            add("neighbour_swapped", CHANGE, text.replace(target, neighbour))
            sep = ", " if en else "、"
            add("neighbour_added", CHANGE, text.replace(target, f"{target}{sep}{neighbour}"))
    if len(targets) > 1 and not en:
        listed = "、".join(targets)
        if listed in text:
            add("district_list_cut", CHANGE, text.replace(listed, "、".join(targets[:-1]) + "など"))
            short_form = f"{targets[0]}ほか{len(targets) - 1}地区"
            if channel in SHORTENING:
                add(
                    "districts_abbreviated_where_shortening",
                    FAITHFUL,
                    text.replace(listed, short_form),
                )
            else:
                add("districts_abbreviated_in_full_text", CHANGE, text.replace(listed, short_form))
            add(
                "districts_abbreviated_wrong_count",
                CHANGE,
                text.replace(listed, f"{targets[0]}ほか{len(targets)}地区"),
            )
            add("district_separator", FAITHFUL, text.replace(listed, "・".join(targets)))
            add("district_order", FAITHFUL, text.replace(listed, "、".join(reversed(targets))))
        m = re.search(r"ほか(\d+)地区", text)
        if m:
            add(
                "short_count_wrong",
                CHANGE,
                text.replace(m.group(0), f"ほか{int(m.group(1)) + 1}地区"),
            )
    if len(targets) == 2 and en:
        first, second = (district_en(d) for d in facts.districts)
        listed = f"{first} and {second}"
        if listed in text:
            add("district_order", FAITHFUL, text.replace(listed, f"{second} and {first}"))

    # --- shelters (発令) ---
    if shelters and not facts.lifted:
        s = shelters[0]
        short = shorten_shelter(s)
        if short and not _names_clash(s, names_in_text):
            add("shelter_shortened", CHANGE, text.replace(s, short))
        x, y = sample.shelter_xy[s]
        nearby = sorted(
            (o for o in sample.shelter_xy if o not in shelters),
            key=lambda o: (sample.shelter_xy[o][0] - x) ** 2 + (sample.shelter_xy[o][1] - y) ** 2,
        )
        add("shelter_swapped_nearby", CHANGE, text.replace(s, nearby[0]))
        if len(shelters) > 1:
            listed = "、".join(shelters)
            if listed in text:
                add("shelter_dropped", CHANGE, text.replace(listed, shelters[0]))
                add("shelter_separator", FAITHFUL, text.replace(listed, "と".join(shelters)))
                add("shelter_order", FAITHFUL, text.replace(listed, "、".join(reversed(shelters))))

    # --- level ---
    if en:
        word = f"Alert Level {facts.level}"
        add("level_number_dropped", CHANGE, text.replace(word, "Alert Level"))
        add("level_word_dropped", CHANGE, text.replace(word + " ", "").replace(word, ""))
        add(
            "level_name_unofficial",
            CHANGE,
            text.replace(f.LEVEL_NAMES_EN[facts.level], UNOFFICIAL_EN[facts.level], 1),
        )
    else:
        add("level_number_dropped", CHANGE, text.replace(f"レベル{facts.level}", "レベル"))
        dropped = text
        for form in (f"【警戒レベル{facts.level}】", f"警戒(けいかい)レベル{facts.level} ",
                     f"警戒レベル{facts.level}、", f"警戒レベル{facts.level} ",
                     f"警戒レベル{facts.level}の", f"警戒レベル{facts.level}",
                     f"レベル{facts.level}"):  # fmt: skip
            dropped = dropped.replace(form, "")
        add("level_word_dropped", CHANGE, dropped)
        add("level_name_unofficial", CHANGE, text.replace(facts.name, UNOFFICIAL[facts.level], 1))

    # --- hazard ---
    hazard_word = facts.hazard_en if en else facts.hazard_ja
    others = [h for h in f.hazards().values() if h.code != facts.hazard]
    other = rng.choice(others)
    add("hazard_swapped", CHANGE, text.replace(hazard_word, other.en if en else other.ja, 1))
    vague = (
        ("earthquake" if en else "地震")
        if facts.hazard == "tsunami"
        else ("heavy rain" if en else "大雨")
    )
    add("hazard_vague", CHANGE, text.replace(hazard_word, vague))

    # --- issuer ---
    issuer = facts.issuer_en if en else facts.issuer
    add("issuer_emptied", CHANGE, text.replace(issuer, ""))
    if en:
        add("issuer_removed", CHANGE, text.replace(f"{issuer} ", "The city "))
        add("issuer_expanded", FAITHFUL, text.replace(issuer, f"{issuer} Office"))
    else:
        removed = _drop_sentences(text, [f"こちらは、{issuer}"]) if channel == "radio" else text
        removed = removed.replace(f"（{issuer}）", "").replace(f"{issuer}は、", "")
        removed = removed.replace(f"{issuer}から お知(し)らせです。", "お知(し)らせです。")
        if channel == "web_short" and removed.endswith(issuer):
            removed = removed[: -len(issuer)]
        add("issuer_removed", CHANGE, removed)
        add("issuer_expanded", FAITHFUL, text.replace(issuer, f"{issuer}役所"))

    # --- action ---
    if not facts.lifted:
        sentence, weak = (
            (facts.action_sentence_en, WEAK_ACTION_EN)
            if en
            else (facts.action_sentence_easy, WEAK_ACTION_EASY)
            if channel == "easy_ja"
            else (facts.action_sentence, WEAK_ACTION)
        )
        add("action_weakened", CHANGE, text.replace(sentence, weak))

    # --- partial 解除 ---
    if facts.lifted and remaining:
        said_remaining = [district_en(d) for d in facts.remaining] if en else remaining
        without = _drop_sentences(text, said_remaining)
        add("remaining_dropped", CHANGE, without)
        if en:
            names_en = [district_en(d) for d in facts.districts]
            listed = " and ".join(names_en) if len(names_en) <= 2 else ""
            rest_en = [district_en(d) for d in facts.remaining]
            moved = without.replace(listed, ", ".join(names_en + rest_en)) if listed else without
        else:
            moved = without.replace("、".join(targets), "、".join(targets + remaining))
        if moved != without:
            add("remaining_listed_as_lifted", CHANGE, moved)
    if facts.lifted:
        body = text[len(f.EXERCISE_MARK) :] if text.startswith(f.EXERCISE_MARK) else text
        if body.startswith("【解除】"):
            add(
                "lift_headline_issue_like",
                CHANGE,
                text.replace("【解除】", f"【警戒レベル{facts.level} {facts.name}】", 1),
            )

    # --- wording and layout (faithful) ---
    lines = text.split("\n")
    if len(lines) > 3:
        i = rng.randint(1, len(lines) - 3)
        swapped = lines[:i] + [lines[i + 1], lines[i]] + lines[i + 2 :]
        add("sentences_reordered", FAITHFUL, "\n".join(swapped))
        # joined as a person joins them: a sentence end where a line had none
        ends = "。．.！？!?）)】"
        joined = [
            line if not line or line[-1] in ends else line + ("." if en else "。") for line in lines
        ]
        add("lines_joined", FAITHFUL, ("" if not en else " ").join(joined))
    else:
        parts = _sentences(text)
        if len(parts) > 3:
            i = rng.randint(1, len(parts) - 3)
            parts[i], parts[i + 1] = parts[i + 1], parts[i]
            add("sentences_reordered", FAITHFUL, "".join(parts))
    if not en:
        worded = text
        for a, b in rng.sample(WORDING, 3):
            worded = worded.replace(a, b)
        add("reworded", FAITHFUL, worded)
        add("full_width_digits", FAITHFUL, full_width(text))
        add(
            "comma_after_topic_dropped",
            FAITHFUL,
            text.replace("こちらは、", "こちらは").replace(
                f"{facts.issuer}は、", f"{facts.issuer}は"
            ),
        )
        add("sentence_added", FAITHFUL, text + "\n落ち着いて行動してください。")
    else:
        add("sentence_added", FAITHFUL, text + "\nStay calm.")
    if channel == "easy_ja":
        add("furigana_dropped", FAITHFUL, re.sub(r"\([ぁ-ん]+\)", "", text))
    return out


# --- held out: written after the guard was changed, never used to change it -----------------

SIMILAR = {"東": "西", "西": "東", "上": "下", "下": "上", "大": "小", "小": "大", "北": "南",
           "南": "北", "新": "本", "本": "新"}  # fmt: skip
HALF_WIDTH_KATAKANA = {"コ": "ｺ", "ミ": "ﾐ", "ュ": "ｭ", "ニ": "ﾆ", "テ": "ﾃ", "ィ": "ｨ", "セ": "ｾ",
                       "ン": "ﾝ", "タ": "ﾀ", "ー": "ｰ"}  # fmt: skip
WEEKDAYS = "月火水木金土日"


def heldout_edits(text: str, facts: f.NoticeFacts, channel: str, layer: Layer, sample, rng):
    """A second batch of edit kinds, written once the guard's changes were done and measured
    as they came out (the guard was not changed for them). Same labels as :func:`edits`."""
    en = channel == "en"
    out: list[tuple[str, str, str]] = []
    limits = Limits()
    limit = {"mail_body": limits.mail_body, "web_short": limits.web_short}.get(channel)

    def add(kind, label, edited):
        if edited and edited != text:
            if label == FAITHFUL and limit is not None and full_width_length(edited) > limit:
                label = OVER_LIMIT
            out.append((kind, label, edited))

    when_ja, when_en = time_forms(facts.issued_at)
    at = facts.issued_at.astimezone(JST)
    level, name = facts.level, facts.name
    # changes
    if not en and when_ja in text:
        if at.minute:
            add("minute_dropped", CHANGE, text.replace(when_ja, when_ja.split("時")[0] + "時"))
        add("time_made_relative", CHANGE, text.replace(when_ja, "先ほど"))
        add("time_approximate", FAITHFUL, text.replace(when_ja, when_ja + "ごろ"))
        weekday = WEEKDAYS[at.weekday()]
        add(
            "date_with_weekday",
            FAITHFUL,
            text.replace(when_ja, f"{at.month}月{at.day}日（{weekday}）{when_ja}", 1),
        )
    if en and when_en in text:
        add("time_made_relative", CHANGE, text.replace(f"at {f.en_datetime(at)}", "just now"))
        add("time_zone_spelled", FAITHFUL, text.replace(" JST", " (Japan time)"))
    target = facts.districts[-1].name
    typo = next(((i, c) for i, c in enumerate(target) if c in SIMILAR), None)
    if typo and not en:
        i, c = typo
        add(
            "district_typo", CHANGE, text.replace(target, target[:i] + SIMILAR[c] + target[i + 1 :])
        )
    if not en and f"警戒レベル{level}" in text:
        other = 5 if level != 5 else 4
        add(
            "headline_level_changed",
            CHANGE,
            text.replace(f"警戒レベル{level}", f"警戒レベル{other}", 1),
        )
        add("level_spaced", FAITHFUL, text.replace(f"警戒レベル{level}", f"警戒レベル {level}"))
        add(
            "level_kanji", FAITHFUL, text.replace(f"警戒レベル{level}", f"警戒レベル{KANJI[level]}")
        )
        add("name_quoted", FAITHFUL, text.replace(name, f"「{name}」"))
    if facts.exercise:
        add("exercise_mark_dropped", CHANGE, text.replace(f.EXERCISE_MARK, ""))
    if not facts.lifted and not en:
        add(
            "issue_negated",
            CHANGE,
            text.replace(f"{name}を発令しました", f"{name}は発令していません"),
        )
        if facts.shelters:
            last = facts.shelters[-1].name
            add("destination_added", CHANGE, text.replace(last, f"{last}、近くの公民館", 1))
            converted = "".join(HALF_WIDTH_KATAKANA.get(c, c) for c in last)
            add("shelter_half_width_katakana", FAITHFUL, text.replace(last, converted))
        add("action_negated", CHANGE, text.replace("開始してください", "開始する必要はありません"))
    if facts.lifted and not en:
        add("lift_made_future", CHANGE, text.replace("解除しました", "解除する予定です"))
        if facts.remaining:
            stays = facts.remaining[0].name
            other = 3 if level != 3 else 4
            changed = "".join(
                s.replace(f"レベル{level}", f"レベル{other}") if stays in s else s
                for s in _sentences(text)
            )
            add("remaining_level_changed", CHANGE, changed)
    if not en:
        add("exclaimed", FAITHFUL, text.replace("緊急放送、緊急放送。", "緊急放送！緊急放送！"))
        listed = "、".join(d.name for d in facts.districts)
        if len(facts.districts) == 2 and listed in text:
            a, b = (d.name for d in facts.districts)
            add("districts_with_oyobi", FAITHFUL, text.replace(listed, f"{a}及び{b}"))
        add(
            "issuer_as_mayor",
            FAITHFUL,
            text.replace(f"（{facts.issuer}）", f"（{facts.issuer}長）"),
        )
    return out
