"""CAP 1.2 XML (STANDARDS.md §1), validated against the packaged OASIS schema every time.

- three ``<info>`` blocks: ``ja-JP``, ``en-US`` and ``ja-x-easy`` (やさしい日本語: no standard tag
  exists, so the private-use tag of STANDARDS.md §1.7), sharing category and eventCode;
- every time is JST with ``+09:00`` and no fractional seconds;
- one ``<area>`` per district: the simplified outer ring as ``lat,lon`` pairs (closed, ≥ 4
  points, simple) and the geocode ``JIS_X0402`` of the municipality;
- msgType Alert for a first 発令, Update for a later edition, Cancel for a 解除; Update and
  Cancel carry ``references``; status Exercise and the note 【訓練】 in exercise mode.

:func:`lint` adds the rules of STANDARDS.md §1.8 that the schema cannot check, as warnings
(``level: "warn"``) and errors (``level: "error"``): required fields, Unknown values, headline
and areaDesc lengths, repeated texts, area shapes (polygon closed, ≥ 4 points, simple and
simplified; circle radius non-zero), overlapping areas (over 1000 m²), empty geocodes,
status Test, references (present on Update/Cancel, triplets, never self, before info),
shared category and eventCode, +09:00 times, forbidden terms and the 【訓練】 mark.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from pathlib import Path

import shapely
from lxml import etree

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices.renderers import RenderError, join_ja
from disaster_ai.apps.notices.renderers.areamail import short_list
from disaster_ai.storage.base import JST

NS = "urn:oasis:names:tc:emergency:cap:1.2"
XSD = Path(__file__).resolve().parents[3] / "schemas" / "CAP-v1.2.xsd"
EASY_LANGUAGE = "ja-x-easy"
PROFILE = {  # level -> urgency, severity, certainty, responseTypes
    5: ("Immediate", "Extreme", "Likely", ("Shelter",)),
    4: ("Immediate", "Severe", "Likely", ("Evacuate",)),
    3: ("Expected", "Moderate", "Likely", ("Prepare", "Evacuate")),
}
LIFT_PROFILE = ("Past", "Minor", "Observed", ("AllClear",))
TIME_RE = re.compile(r"^\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00$")
BAD_ID_CHARS = re.compile(r"[\s,<&]")
OVERLAP_TOLERANCE_M2 = 1000.0  # STANDARDS.md §1.8 (CAP Composer PR #160)
MAX_POLYGON_POINTS = 100  # NOTICE_POLYGON_MAX_POINTS: a ring above this was not simplified

_SCHEMA: list[etree.XMLSchema] = []


def schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 schema, parsed once per process."""
    if not _SCHEMA:
        _SCHEMA.append(etree.XMLSchema(etree.parse(str(XSD))))
    return _SCHEMA[0]


def cap_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("CAP times must be timezone-aware")
    return at.astimezone(JST).replace(microsecond=0).isoformat(timespec="seconds")


def polygon_text(ring) -> str:
    """(lon, lat) ring → 'lat,lon lat,lon …' (CAP order), closed."""
    points = list(ring)
    if points and points[0] != points[-1]:
        points.append(points[0])
    return " ".join(f"{lat:.5f},{lon:.5f}" for lon, lat in points)


def _sub(parent, tag, text=None):
    element = etree.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        element.text = str(text)
    return element


def _texts(facts: f.NoticeFacts, channels: dict) -> dict:
    names = [d.name for d in facts.districts]
    act = facts.action
    mark = f.EXERCISE_MARK if facts.exercise else ""
    when = f.reading_time(facts.issued_at)
    shelters = join_ja([s.name for s in facts.shelters])
    if facts.lifted:
        instruction_ja = "引き続き、今後の情報に注意してください。"
        instruction_en = "Keep following official information."
        instruction_easy = "これからも ニュースなどを 見(み)て ください。"
    else:
        instruction_ja = facts.action_sentence + (f"避難先は、{shelters}です。" if shelters else "")
        instruction_ja += f.FALLBACK
        instruction_en = facts.action_sentence_en + " " + f.FALLBACK_EN
        instruction_easy = facts.action_sentence_easy + f.FALLBACK_EASY
    description_ja = (
        f"{mark}{when}、{facts.issuer}は、{join_ja(names)}に{facts.hazard_ja}に関する"
        f"警戒レベル{facts.level}、{facts.name}を{act}しました。{facts.reason}"
    )
    # a 解除 says 解除 first in every language: its headline must never read like an order
    if facts.lifted:
        headline_ja = (
            f"{mark}【解除】{short_list(names, '地区')}の警戒レベル{facts.level} {facts.name}を解除"
        )
        headline_en = (
            f"{mark}Lifted: Alert Level {facts.level} {f.LEVEL_NAMES_EN[facts.level]}"
            f" ({facts.hazard_en})"
        )
        headline_easy = f"{mark}【解除(かいじょ)】警戒(けいかい)レベル{facts.level} {facts.name}"
    else:
        headline_ja = (
            f"{mark}{short_list(names, '地区')}に警戒レベル{facts.level} {facts.name}を{act}"
        )
        headline_en = (
            f"{mark}Alert Level {facts.level} {f.LEVEL_NAMES_EN[facts.level]} issued"
            f" ({facts.hazard_en})"
        )
        headline_easy = f"{mark}警戒(けいかい)レベル{facts.level} {facts.name}"
    return {
        "ja-JP": {
            "event": facts.name,
            "headline": headline_ja,
            "description": description_ja,
            "instruction": instruction_ja,
            "sender": facts.issuer,
        },
        "en-US": {
            "event": f.LEVEL_NAMES_EN[facts.level],
            "headline": headline_en,
            "description": channels["en"],
            "instruction": instruction_en,
            "sender": facts.issuer_en or facts.issuer,
        },
        EASY_LANGUAGE: {
            "event": f.LEVEL_NAMES_EASY[facts.level],
            "headline": headline_easy,
            "description": channels["easy_ja"],
            "instruction": instruction_easy,
            "sender": facts.issuer,
        },
    }


def build(facts: f.NoticeFacts, channels: dict, expires_hours: int = 24) -> etree._Element:
    for value, what in ((facts.identifier, "identifier"), (facts.sender, "sender")):
        if not value or BAD_ID_CHARS.search(value):
            raise RenderError("cap", f"{what} must be non-empty without spaces, commas, < or &")
    alert = etree.Element(f"{{{NS}}}alert", nsmap={None: NS})
    _sub(alert, "identifier", facts.identifier)
    _sub(alert, "sender", facts.sender)
    _sub(alert, "sent", cap_time(facts.issued_at))
    _sub(alert, "status", "Exercise" if facts.exercise else "Actual")
    _sub(alert, "msgType", facts.msg_type)
    _sub(alert, "scope", "Public")
    note = f.EXERCISE_MARK if facts.exercise else ""
    if facts.lifted and facts.remaining:
        # a partial 解除: the Update says which districts stay under the earlier notice
        note += (
            f"{join_ja([d.name for d in facts.districts])}の{facts.name}を解除。"
            f"{join_ja([d.name for d in facts.remaining])}の警戒レベル{facts.level} {facts.name}は継続中。"
        )
    if note:
        _sub(alert, "note", note)
    if facts.references:
        _sub(alert, "references", " ".join(facts.references))
    urgency, severity, certainty, responses = LIFT_PROFILE if facts.lifted else PROFILE[facts.level]
    expires = facts.expires or facts.issued_at + timedelta(hours=expires_hours)
    hazard = facts.hazard_def
    for language, text in _texts(facts, channels).items():
        info = _sub(alert, "info")
        _sub(info, "language", language)
        _sub(info, "category", hazard.cap_category)
        _sub(info, "event", text["event"])
        for response in responses:
            _sub(info, "responseType", response)
        _sub(info, "urgency", urgency)
        _sub(info, "severity", severity)
        _sub(info, "certainty", certainty)
        code = _sub(info, "eventCode")
        _sub(code, "valueName", "JP_HAZARD")
        _sub(code, "value", hazard.cap_event_code or facts.hazard)
        _sub(info, "effective", cap_time(facts.issued_at))
        _sub(info, "expires", cap_time(expires))
        _sub(info, "senderName", text["sender"])
        _sub(info, "headline", text["headline"])
        _sub(info, "description", text["description"])
        _sub(info, "instruction", text["instruction"])
        parameter = _sub(info, "parameter")
        _sub(parameter, "valueName", "JP_ALERT_LEVEL")
        _sub(parameter, "value", facts.level)
        for district in facts.districts:
            area = _sub(info, "area")
            _sub(area, "areaDesc", district.name)
            if district.ring:
                _sub(area, "polygon", polygon_text(district.ring))
            if facts.jis_code:
                geocode = _sub(area, "geocode")
                _sub(geocode, "valueName", "JIS_X0402")
                _sub(geocode, "value", facts.jis_code)
            if not district.ring and not facts.jis_code:
                raise RenderError("cap", f"area {district.name} has neither polygon nor geocode")
    return alert


def render(facts: f.NoticeFacts, templates, channels: dict, expires_hours: int = 24) -> str:
    """The CAP document as a string; raises RenderError when it fails the XSD."""
    alert = build(facts, channels, expires_hours)
    validate(alert)
    return etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode(
        "utf-8"
    )


def validate(document) -> None:
    root = etree.fromstring(document.encode("utf-8")) if isinstance(document, str) else document
    xsd = schema()
    if not xsd.validate(root):
        raise RenderError("cap", f"not valid CAP 1.2: {xsd.error_log.last_error}")


def lint(xml: str, max_polygon_points: int = MAX_POLYGON_POINTS) -> list[dict]:
    """STANDARDS.md §1.8 rules the schema cannot check, each ``{rule, level, message}`` with
    ``level`` ``error`` or ``warn``."""
    root = etree.fromstring(xml.encode("utf-8"))
    ns = {"c": NS}
    out: list[dict] = []

    def add(rule, level, message):
        out.append({"rule": f"cap.{rule}", "level": level, "message": message})

    for tag in ("sent",):
        for el in root.findall(f"c:{tag}", ns):
            if not TIME_RE.match(el.text or ""):
                add("time_offset", "error", f"{tag} is not in +09:00: {el.text}")
    for tag in ("identifier", "sender"):
        value = root.findtext(f"c:{tag}", namespaces=ns) or ""
        if BAD_ID_CHARS.search(value):
            add("id_chars", "error", f"{tag} has a space, comma, < or &")
    status = root.findtext("c:status", namespaces=ns)
    msg_type = root.findtext("c:msgType", namespaces=ns)
    references = root.find("c:references", ns)
    if msg_type in ("Update", "Cancel") and not root.findtext("c:references", namespaces=ns):
        add("references", "error", f"{msg_type} without references")
    if references is not None:
        _lint_references(root, references, ns, add)
    if status == "Test":
        add("status_test", "warn", "status is Test")
    infos = root.findall("c:info", ns)
    shared = {
        (
            tuple(sorted(c.text or "" for c in i.findall("c:category", ns))),
            tuple(
                sorted(
                    (e.findtext("c:valueName", namespaces=ns), e.findtext("c:value", namespaces=ns))
                    for e in i.findall("c:eventCode", ns)
                )
            ),
        )
        for i in infos
    }
    if len({categories for categories, _codes in shared}) > 1:
        add("info_category", "error", "the info blocks do not share one category")
    if len({codes for _categories, codes in shared}) > 1:
        add("info_event_code", "error", "the info blocks do not share the eventCode values")
    text_all = etree.tostring(root, encoding="unicode")
    for term in f.FORBIDDEN:
        if term in text_all:
            add("forbidden_term", "error", f"forbidden legacy term {term}")
    if status == "Exercise" and f.EXERCISE_MARK not in text_all:
        add("exercise_mark", "error", "status Exercise without 【訓練】")
    overlaps_seen: set[tuple[str, str]] = set()
    for info in infos:
        lang = info.findtext("c:language", namespaces=ns)
        for tag in ("expires", "description", "instruction", "senderName"):
            if not info.findtext(f"c:{tag}", namespaces=ns):
                add("missing_" + tag, "warn", f"{lang}: no {tag}")
        for tag in ("effective", "onset", "expires"):
            value = info.findtext(f"c:{tag}", namespaces=ns)
            if value and not TIME_RE.match(value):
                add("time_offset", "error", f"{lang}: {tag} is not in +09:00")
        for tag in ("urgency", "severity", "certainty"):
            if info.findtext(f"c:{tag}", namespaces=ns) == "Unknown":
                add("unknown_" + tag, "warn", f"{lang}: {tag} is Unknown")
        headline = info.findtext("c:headline", namespaces=ns) or ""
        if len(headline) > 160:
            add("headline_length", "error", f"{lang}: headline over 160 characters")
        elif len(headline) > 140:
            add("headline_length", "warn", f"{lang}: headline over 140 characters")
        description = info.findtext("c:description", namespaces=ns)
        if description and description in (headline, info.findtext("c:instruction", namespaces=ns)):
            add("description_repeats", "warn", f"{lang}: description repeats another field")
        shapes: list[tuple[str, list]] = []
        for area in info.findall("c:area", ns):
            desc = area.findtext("c:areaDesc", namespaces=ns) or ""
            if len(desc) > 50:
                add("area_desc_length", "warn", f"{lang}: areaDesc over 50 characters")
            polygons = area.findall("c:polygon", ns)
            circles = area.findall("c:circle", ns)
            geocodes = area.findall("c:geocode", ns)
            if not polygons and not geocodes and not circles:
                add("area_shape", "error", f"{lang}: area {desc} has no polygon/circle/geocode")
            for geocode in geocodes:
                if not geocode.findtext("c:value", namespaces=ns):
                    add("geocode_empty", "warn", f"{lang}: empty geocode in {desc}")
            parts = []
            for polygon in polygons:
                problem = polygon_problem(polygon.text or "", max_polygon_points)
                if problem:
                    add("polygon", "error", f"{lang}: {desc}: {problem}")
                else:
                    parts.append(_polygon_shape(polygon.text or ""))
            for circle in circles:
                problem, shape = circle_problem(circle.text or "")
                if problem:
                    add("circle", "error", f"{lang}: {desc}: {problem}")
                else:
                    parts.append(shape)
            if parts:
                shapes.append((desc, parts))
        for a, b, square_m in overlapping_areas(shapes):
            if (a, b) not in overlaps_seen:
                overlaps_seen.add((a, b))
                add(
                    "area_overlap",
                    "warn",
                    f"areas {a} and {b} overlap by {square_m:.0f} m² "
                    f"(more than {OVERLAP_TOLERANCE_M2:.0f} m²)",
                )
    return out


def _lint_references(root, references, ns, add) -> None:
    """references: ``sender,identifier,sent`` triplets, never this message itself, and placed
    before the first ``<info>`` (google/cap-library #61)."""
    children = list(root)
    first_info = next((i for i, el in enumerate(children) if el.tag == f"{{{NS}}}info"), None)
    if first_info is not None and children.index(references) > first_info:
        add("references_order", "error", "references comes after info")
    me = (
        root.findtext("c:sender", namespaces=ns),
        root.findtext("c:identifier", namespaces=ns),
    )
    for triplet in (references.text or "").split():
        parts = triplet.split(",")
        if len(parts) != 3 or not all(parts):
            add("references", "error", f"not a sender,identifier,sent triplet: {triplet}")
            continue
        if not TIME_RE.match(parts[2]):
            add("time_offset", "error", f"references: sent is not in +09:00: {parts[2]}")
        if (parts[0], parts[1]) == me:
            add("references_self", "error", "the message references itself")


def _metres(lat0: float):
    """An equirectangular projection around ``lat0``: good to well under 1 % at a town's size."""
    kx = 111_320.0 * math.cos(math.radians(lat0))
    ky = 110_574.0

    def project(lon: float, lat: float) -> tuple[float, float]:
        return lon * kx, lat * ky

    return project


def _polygon_shape(text: str):
    pairs = [tuple(float(v) for v in p.split(",")) for p in text.split()]
    return ("polygon", [(lon, lat) for lat, lon in pairs])


def circle_problem(text: str):
    """``lat,lon radius`` with radius in km, non-zero: (problem or None, shape)."""
    try:
        centre, radius = text.split()
        lat, lon = (float(v) for v in centre.split(","))
        radius_km = float(radius)
    except ValueError:
        return "not 'lat,lon radius'", None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return "coordinates out of range (lat,lon order?)", None
    if radius_km <= 0:
        return "the radius is zero", None
    return None, ("circle", (lon, lat, radius_km))


def overlapping_areas(shapes: list[tuple[str, list]], tolerance_m2: float = OVERLAP_TOLERANCE_M2):
    """Pairs of areas (by areaDesc) whose shapes overlap by more than ``tolerance_m2``: yields
    ``(desc_a, desc_b, square metres)``. Touching neighbours (shared borders) do not count."""
    if len(shapes) < 2:
        return
    lats = [
        lat
        for _desc, parts in shapes
        for kind, data in parts
        for lat in ([p[1] for p in data] if kind == "polygon" else [data[1]])
    ]
    project = _metres(sum(lats) / len(lats))
    geoms = []
    for desc, parts in shapes:
        pieces = []
        for kind, data in parts:
            if kind == "polygon":
                pieces.append(shapely.Polygon([project(lon, lat) for lon, lat in data]))
            else:
                lon, lat, radius_km = data
                pieces.append(shapely.Point(project(lon, lat)).buffer(radius_km * 1000.0))
        geoms.append((desc, shapely.union_all(pieces)))
    tree = shapely.STRtree([g for _desc, g in geoms])
    left, right = tree.query([g for _desc, g in geoms], predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        square_m = geoms[i][1].intersection(geoms[j][1]).area
        if square_m > tolerance_m2:
            yield geoms[i][0], geoms[j][0], square_m


def polygon_problem(text: str, max_points: int | None = None) -> str | None:
    try:
        pairs = [tuple(float(v) for v in p.split(",")) for p in text.split()]
    except ValueError:
        return "not lat,lon pairs"
    if any(len(p) != 2 for p in pairs):
        return "not lat,lon pairs"
    if len(pairs) < 4:
        return "fewer than 4 points"
    if pairs[0] != pairs[-1]:
        return "not closed"
    if any(not (-90 <= lat <= 90 and -180 <= lon <= 180) for lat, lon in pairs):
        return "coordinates out of range (lat,lon order?)"
    if not shapely.LinearRing([(lon, lat) for lat, lon in pairs]).is_simple:
        return "self-intersecting"
    if max_points is not None and len(pairs) > max_points:
        return f"{len(pairs)} points: not simplified (at most {max_points})"
    return None
