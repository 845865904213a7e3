"""Read one JMA 防災情報XML telegram (VPWW53/54, VPWW55–61, VXWW50, VXKO50–89, VPOA50, VPBS50).

Safe XML: lxml with entity resolution, DTD loading and network access off, and huge trees
refused. The data-type code (``VPWW54`` …) comes from the file name as JMA publishes it
(``…_VPWW54_…xml``, also the feed's link); without one it is recognised from the structure and
``Control/Title`` (normalised, so a typo in a ``Head/Title`` never matters). The level is
警戒レベル**相当** (see levels.toml): JMA's information for the municipality's decision.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from lxml import etree

NS_REPORT = "http://xml.kishou.go.jp/jmaxml1/"
NS_HEAD = "http://xml.kishou.go.jp/jmaxml1/informationBasis1/"
NS_BODY = "http://xml.kishou.go.jp/jmaxml1/body/meteorology1/"
MUNICIPAL_CODETYPE = "気象・地震・火山情報／市町村等"
TYPE_IN_NAME = re.compile(r"(?:^|[_\-.])(V[A-Z]{3}(?:\d\d|ii))(?=[_\-.]|$)")
LEVEL_PREFIX = re.compile(r"^レベル(\d)")
LEVEL_EQUIV = re.compile(r"警戒レベル(\d)相当")
# Control/Title (NFKC-normalised, spaces removed) → data-type code, for files without one in
# their name. Several titles share a type only where the type is a family (VXKO).
TITLES = {
    "気象特別警報・警報・注意報": "VPWW53",
    "気象警報・注意報(H27)": "VPWW54",
    "気象警報・注意報(R06)(大雨)": "VPWW55",
    "気象警報・注意報(R06)(土砂災害)": "VPWW56",
    "気象警報・注意報(R06)(高潮)": "VPWW57",
    "気象警報・注意報(R06)(暴風)": "VPWW58",
    "気象警報・注意報(R06)(波浪)": "VPWW59",
    "気象警報・注意報(R06)(大雪)": "VPWW60",
    "気象警報・注意報(R06)(その他注意報)": "VPWW61",
    "土砂災害警戒情報": "VXWW50",
    "指定河川洪水予報": "VXKOii",
    "記録的短時間大雨情報": "VPOA50",
    "気象防災速報": "VPBS50",
}
SUPPORTED = re.compile(r"^(VPWW5[3-9]|VPWW6[01]|VXWW50|VXKO(?:[5-8]\d|ii)|VPOA50|VPBS50)$")


class NotATelegram(ValueError):
    """The file is not a JMA telegram this plugin reads; the message says why."""


@dataclass(frozen=True)
class Kind:
    name: str
    code: str
    status: str
    level: int | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AreaItem:
    area_code: str
    area_name: str
    kinds: tuple[Kind, ...]

    def as_dict(self) -> dict:
        return {
            "area_code": self.area_code,
            "area_name": self.area_name,
            "kinds": [k.as_dict() for k in self.kinds],
        }


@dataclass(frozen=True)
class Telegram:
    file: str
    type: str
    title: str  # Control/Title
    head_title: str
    status: str  # Control/Status: 通常, 訓練, 試験
    info_type: str  # 発表, 訂正, 取消 …
    reported_at: str  # ISO 8601, +09:00
    event_id: str
    serial: str
    office: str
    headline: str
    items: tuple[AreaItem, ...] = field(default_factory=tuple)

    @property
    def family(self) -> str:
        return family_of(self.type)

    @property
    def actionable(self) -> bool:
        """Only a 通常 telegram is acted on; 訓練 and 試験 are shown as such."""
        return self.status == "通常"

    def items_for(self, area_codes) -> list[AreaItem]:
        codes = set(area_codes)
        return [item for item in self.items if item.area_code in codes]

    def as_json(self) -> dict:
        """The shape of ``disaster-ai jma parse --json``."""
        return {
            "file": self.file,
            "type": self.type,
            "status": self.status,
            "info_type": self.info_type,
            "reported_at": self.reported_at,
            "items": [item.as_dict() for item in self.items],
        }


def family_of(data_type: str) -> str:
    if data_type in ("VPWW53", "VPWW54"):
        return "VPWW54"
    if re.fullmatch(r"VPWW5[5-9]|VPWW6[01]", data_type):
        return "VPWW55-61"
    if data_type.startswith("VXKO"):
        return "VXKO"
    return data_type


@cache
def level_table() -> dict:
    with (Path(__file__).parent / "levels.toml").open("rb") as f:
        return tomllib.load(f)


def kind_info(data_type: str, code: str) -> dict:
    """The levels.toml entry for a kind: phenomenon, label and level (any may be missing)."""
    return dict(level_table().get(family_of(data_type), {}).get(code, {}))


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").replace(" ", "").strip()


def _text(element, path: str, ns: dict) -> str:
    found = element.find(path, ns) if element is not None else None
    return (found.text or "").strip() if found is not None and found.text else ""


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
    )


def _reported_at(value: str) -> str:
    """ReportDateTime as ISO 8601 with +09:00 (JMA already writes it so)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    from datetime import timedelta, timezone

    return moment.astimezone(timezone(timedelta(hours=9))).isoformat()


def data_type_from_name(name: str) -> str:
    match = TYPE_IN_NAME.search(Path(name).name.rsplit(".", 1)[0] if name else "")
    return match.group(1) if match else ""


def level_of(
    data_type: str, name: str, code: str, notes: str = "", headline: str = ""
) -> int | None:
    """警戒レベル相当 of one kind: the name's レベルN prefix or 警戒レベルN相当 in the name, the
    table (family + code), then 警戒レベルN相当 in the kind's own notes (a kind the table does
    not know), and for rivers the headline or the code's first digit."""
    text = _norm(name)
    match = LEVEL_PREFIX.match(text) or LEVEL_EQUIV.search(text)
    if match:
        return int(match.group(1))
    level = kind_info(data_type, code).get("level")
    if level is not None:
        if family_of(data_type) == "VPWW54" and "危険警報" in _norm(notes):
            level = max(level, 4)  # the transition: a 危険警報 as an ordinary 警報, with a note
        return level
    if text in ("なし", "解除") or "解除" in text:
        return None
    match = LEVEL_EQUIV.search(_norm(notes))
    if match and not kind_info(data_type, code):
        return int(match.group(1))
    if family_of(data_type) == "VXKO" and code:
        match = LEVEL_EQUIV.search(_norm(headline))
        if match:
            return int(match.group(1))
        if code[:1] in "2345" and len(code) == 2:
            return int(code[:1])
    return None


def parse_bytes(data: bytes, file: str = "") -> Telegram:
    """One telegram from its bytes. Raises NotATelegram with a reason for anything else."""
    if not data or not data.lstrip().startswith(b"<"):
        raise NotATelegram("not XML")
    try:
        root = etree.fromstring(data, parser=_safe_parser())
    except etree.XMLSyntaxError as exc:
        raise NotATelegram(f"not well-formed XML: {exc}") from None
    if root.tag != f"{{{NS_REPORT}}}Report":
        raise NotATelegram("not a JMA 防災情報XML telegram (no jmaxml1 Report element)")
    ns = {"r": NS_REPORT, "h": NS_HEAD, "b": NS_BODY}
    control = root.find("r:Control", ns)
    head = root.find("h:Head", ns)
    if control is None or head is None:
        raise NotATelegram("a JMA Report without Control or Head")
    title = _text(control, "r:Title", ns)
    data_type = data_type_from_name(file) or TITLES.get(_norm(title), "")
    if not data_type:
        info_kind = _text(head, "h:InfoKind", ns)
        data_type = TITLES.get(_norm(info_kind), "")
    if not SUPPORTED.match(data_type or ""):
        raise NotATelegram(
            f"a JMA telegram of a type this plugin does not read ({data_type or title or '?'})"
        )
    headline = _text(head, "h:Headline/h:Text", ns)
    body = root.find("b:Body", ns)
    items = _items(data_type, head, body, headline, ns)
    return Telegram(
        file=file,
        type=data_type,
        title=title,
        head_title=_text(head, "h:Title", ns),
        status=_text(control, "r:Status", ns),
        info_type=_text(head, "h:InfoType", ns),
        reported_at=_reported_at(_text(head, "h:ReportDateTime", ns)),
        event_id=_text(head, "h:EventID", ns),
        serial=_text(head, "h:Serial", ns),
        office=_text(control, "r:PublishingOffice", ns),
        headline=headline,
        items=tuple(items),
    )


def parse_file(path: str | Path) -> Telegram:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotATelegram(f"cannot read: {exc.strerror or exc}") from None
    return parse_bytes(data, file=str(path))


def _kind(data_type: str, kind, ns: dict, headline: str, status_default: str = "") -> Kind | None:
    name = _text(kind, "b:Name", ns) or _text(kind, "h:Name", ns)
    code = _text(kind, "b:Code", ns) or _text(kind, "h:Code", ns)
    status = _text(kind, "b:Status", ns) or _text(kind, "h:Status", ns)
    if not name and not code and not status:
        return None  # e.g. a river forecast's text-only 主文
    status = status or status_default
    notes = " ".join(
        t.strip()
        for child in kind
        if child.tag.rsplit("}", 1)[-1] not in ("LastKind", "Name", "Code", "Status")
        for t in child.itertext()
    )
    return Kind(name, code, status, level_of(data_type, name, code, notes, headline))


def _items(data_type: str, head, body, headline: str, ns: dict) -> list[AreaItem]:
    """The municipal (市町村等, class20) items: from the Body's municipal Warning where the type
    has one, for rivers from the 浸水想定地区 cities, else from the Head's municipal
    Information blocks."""
    found: dict[str, tuple[str, list[Kind]]] = {}

    def add(code: str, name: str, kinds: list[Kind]):
        if not code:
            return
        entry = found.setdefault(code, (name, []))
        entry[1].extend(k for k in kinds if k not in entry[1])

    if body is not None and family_of(data_type) == "VXKO":
        head_kinds = [
            k
            for k in (
                _kind(data_type, kind, ns, headline, "発表")
                for kind in head.iterfind(
                    "h:Headline/h:Information[@type='指定河川洪水予報（河川）']/h:Item/h:Kind", ns
                )
            )
            if k is not None
        ]
        for area in body.iterfind("b:Warning/b:Item/b:Areas/b:Area", ns):
            city_code = _text(area, "b:CityCode", ns)
            if city_code:
                add(city_code, _text(area, "b:City", ns), head_kinds)
    elif body is not None:
        for warning in body.iterfind("b:Warning", ns):
            wtype = warning.get("type", "")
            if not (wtype.endswith("（市町村等）") or wtype == "土砂災害警戒情報"):
                continue
            for item in warning.iterfind("b:Item", ns):
                kinds = [
                    k
                    for k in (
                        _kind(data_type, kind, ns, headline) for kind in item.iterfind("b:Kind", ns)
                    )
                    if k is not None
                ]
                for area in item.iterfind("b:Area", ns) or []:
                    add(_text(area, "b:Code", ns), _text(area, "b:Name", ns), kinds)
                for area in item.iterfind("b:Areas/b:Area", ns):
                    add(_text(area, "b:Code", ns), _text(area, "b:Name", ns), kinds)
    if not found:
        for info in head.iterfind("h:Headline/h:Information", ns):
            for item in info.iterfind("h:Item", ns):
                areas = item.find("h:Areas", ns)
                if areas is None or areas.get("codeType") != MUNICIPAL_CODETYPE:
                    continue
                kinds = [
                    k
                    for k in (
                        _kind(data_type, kind, ns, headline, "発表")
                        for kind in item.iterfind("h:Kind", ns)
                    )
                    if k is not None
                ]
                for area in areas.iterfind("h:Area", ns):
                    add(_text(area, "h:Code", ns), _text(area, "h:Name", ns), kinds)
    return [AreaItem(code, name, tuple(kinds)) for code, (name, kinds) in found.items()]
