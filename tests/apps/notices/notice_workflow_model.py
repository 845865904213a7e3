"""The model and the checks of the notices workflow model test (test_workflow_model.py).

The model is what a desk officer knows after each step: per chain, the hazard, the level and
the districts still in force, and the CAP identity of every edition issued in that chain. The
checks compare what the app says (its API, the notices page, the dashboard map and feed, the
bulletins' hook, and the public texts and CAP of the edition just issued) with that model. Each
check adds its findings to a :class:`Report`, one per broken rule with a kind (the rule, and the
channel or surface), so that one step reports all it broke and a survey can count the kinds.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import lxml.html
from lxml import etree

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices.renderers import Limits, district_en, full_width_length
from disaster_ai.apps.notices.renderers import cap as cap_renderer

ISSUE, LIFT = f.ISSUE, f.LIFT
HAZARD_JA = {h.code: h.ja for h in f.BUILTIN_HAZARDS}
DEFAULT_REASON = {h.code: h.reasons[0] for h in f.BUILTIN_HAZARDS}
TABLE_TITLE = "地区ごとの発令中の避難情報"  # the notices page's per-district table (ja)
LEGACY_TERMS = ("避難勧告", "避難準備")
# the channels as the guard names them; the short ones may say 「○○ほかN地区」
SHORTENING = ("mail_body", "web_short")
NAMED = ("radio", "mail_body", "web_long", "web_short", "en", "easy_ja")  # name the districts
TIMED = NAMED  # say the time of issue
FURIGANA = re.compile(r"[(（][ぁ-ゖァ-ヺー・\s]+[)）]")
JA_TIME = re.compile(r"午[前後]\d{1,2}時(?:\d{1,2}分)?")
EN_TIME = re.compile(r"\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d JST")
CAP_NS = {"c": cap_renderer.NS}


class Violation(AssertionError):
    """Broken invariants: ``kinds`` name the rules, the message says what was seen."""

    def __init__(self, kind: str, message: str, kinds: tuple[str, ...] = ()):
        super().__init__(f"[{kind}] {message}")
        self.kind = kind
        self.kinds = kinds or (kind,)
        self.message = message


class Report:
    """The problems one step found: each check adds to it; the machine raises them."""

    def __init__(self):
        self.problems: list[tuple[str, str]] = []

    def add(self, kind: str, message: str) -> None:
        self.problems.append((kind, message))

    def violation(self) -> Violation | None:
        if not self.problems:
            return None
        kinds = tuple(dict.fromkeys(kind for kind, _message in self.problems))
        text = "\n".join(f"[{kind}] {message}" for kind, message in self.problems)
        return Violation(kinds[0], f"{len(self.problems)} problem(s):\n{text}", kinds)


@dataclass
class Edition:
    id: int
    identifier: str
    sent: str  # the CAP <sent> of this edition, as issued


@dataclass
class Chain:
    """One chain of editions, as the model knows it."""

    hazard: str
    level: int
    districts: list[str]  # keys still in force, in the order they were named
    base: int  # the 発令 edition whose level applies (the first or the latest update)
    head: int  # the latest issued edition (what an update or 解除 supersedes)
    editions: list[Edition] = field(default_factory=list)


@dataclass(frozen=True)
class Districts:
    """Every district of the loaded layer: key → name, and the English name of each."""

    names: dict[str, str]
    english: dict[str, str]

    @classmethod
    def from_frame(cls, frame, town: dict) -> Districts:
        """From the district layer and the issuing municipality (whose postal data may give
        a reading, so the English name as the renderers write it)."""
        names, english = {}, {}
        bound = {"municipality", "jis_code"} <= {x.name for x in dataclasses.fields(f.District)}
        for key, name, kana in zip(frame["key"], frame["name"], frame["name_kana"], strict=True):
            district = f.District(key=str(key), name=str(name), name_kana=str(kana or ""))
            if bound:
                district = dataclasses.replace(
                    district, municipality=town["name"], jis_code=town["jis_code"]
                )
            names[district.key] = district.name
            english[district.key] = district_en(district)
        return cls(names, english)

    def pattern(self, english: bool = False) -> re.Pattern:
        words = sorted(set((self.english if english else self.names).values()), key=len)
        alternatives = "|".join(re.escape(w) for w in reversed(words))
        if english:
            return re.compile(rf"(?<![A-Za-z0-9])({alternatives})(?![A-Za-z0-9])")
        return re.compile(rf"({alternatives})")


# --- what is in force ------------------------------------------------------------------------


def expected_entries(chains: dict[int, Chain]) -> Counter:
    """(district key, level, hazard, 発令 in force, chain head) for each district in force."""
    return Counter(
        (key, c.level, c.hazard, c.base, c.head) for c in chains.values() for key in c.districts
    )


def highest(chains: dict[int, Chain]) -> dict[str, tuple[int, set[str]]]:
    """district key → (highest level in force, the hazards in force at that level)."""
    out: dict[str, tuple[int, set[str]]] = {}
    for chain in chains.values():
        for key in chain.districts:
            level, hazards = out.get(key, (0, set()))
            if chain.level > level:
                out[key] = (chain.level, {chain.hazard})
            elif chain.level == level:
                hazards.add(chain.hazard)
    return out


def diff(seen: Counter, wanted: Counter, names: dict[str, str]) -> str:
    def show(items):
        return sorted(
            f"{names.get(i[0], i[0])} Lv{i[1]} {HAZARD_JA.get(i[2], i[2])} {tuple(i[3:])}"
            for i in items.elements()
        )

    return f"missing {show(wanted - seen)}, unexpected {show(seen - wanted)}"


def check_entries(report: Report, surface: str, entries, chains, districts: Districts, full=True):
    """The API items, the bulletins' hook entries or the dashboard feed equal the model."""
    if full:
        seen = Counter(
            (
                e.get("district_key"),
                e.get("level"),
                e.get("hazard"),
                e.get("notice_id"),
                e.get("supersede_id"),
            )
            for e in entries
        )
        wanted = expected_entries(chains)
    else:
        seen = Counter((e.get("district_key"), e.get("level"), e.get("hazard")) for e in entries)
        wanted = Counter(k[:3] for k in expected_entries(chains).elements())
    if seen != wanted:
        report.add(
            f"surface:{surface}", f"{surface} ≠ model: {diff(seen, wanted, districts.names)}"
        )


def check_map(report: Report, features: list[dict], chains, districts: Districts):
    """The dashboard map's districts: the highest level in force, its hazard, nothing else."""
    want = highest(chains)
    problems = []
    for feature in features:
        props = feature.get("properties") or {}
        key = props.get("key")
        level = props.get("notice_level")
        if key in want:
            wanted_level, hazards = want[key]
            if level != wanted_level or props.get("notice_hazard") not in hazards:
                problems.append(
                    f"{districts.names.get(key, key)}: map Lv{level} {props.get('notice_hazard')},"
                    f" model Lv{wanted_level} {sorted(hazards)}"
                )
        elif level:
            problems.append(f"{districts.names.get(key, key)}: map Lv{level}, model none")
    missing = set(want) - {(ft.get("properties") or {}).get("key") for ft in features}
    problems += [f"{districts.names.get(k, k)}: not on the map" for k in sorted(missing)]
    if problems:
        report.add("surface:map", "dashboard map ≠ model: " + "; ".join(problems))


def parse_district_table(html: str, districts: Districts) -> dict[str, dict]:
    """The notices page's 「地区ごとの発令中の避難情報」 table: district key → {level, label,
    ids} (level None: 「発令中の避難情報はありません」; ids: the notices its history links)."""
    root = lxml.html.fromstring(html)
    heading = next(
        (h for h in root.iter("h1", "h2", "h3") if h.text_content().strip() == TABLE_TITLE), None
    )
    if heading is None:
        return {}
    tables = heading.xpath("following::table[1]")
    if not tables:
        return {}
    by_name = {name: key for key, name in districts.names.items()}
    rows = {}
    for tr in tables[0].xpath(".//tbody/tr"):
        header = tr.xpath("./th")
        cells = tr.xpath("./td")
        name = header[0].text_content().strip() if header else ""
        key = tr.get("data-district") or by_name.get(name, name)
        state = cells[0] if cells else tr
        badge = state.xpath(".//*[contains(concat(' ', @class, ' '), ' level-badge ')]")
        label = badge[0].text_content().strip() if badge else ""
        match = re.search(r"警戒レベル\s*(\d)", label)
        ids = {
            int(m.group(1))
            for cell in cells[1:]
            for href in cell.xpath(".//a/@href")
            if (m := re.search(r"/notices/(\d+)", href))
        }
        rows[key] = {"level": int(match.group(1)) if match else None, "label": label, "ids": ids}
    return rows


def check_page(report: Report, rows, chains, named: dict[str, set[int]], districts: Districts):
    """The page's table: each district in force with its highest level and hazard, each
    district no longer in force without a badge, and each district's history listing every
    issued edition that named it (発令, 更新 and 解除)."""
    want = highest(chains)
    problems = []
    for key, (level, hazards) in sorted(want.items()):
        row = rows.get(key)
        name = districts.names.get(key, key)
        if row is None:
            problems.append(f"{name} (Lv{level} in force) has no row")
        elif row["level"] != level or not any(HAZARD_JA[h] in row["label"] for h in hazards):
            problems.append(
                f"{name}: page says {row['label'] or 'none'}, model Lv{level} {hazards}"
            )
    for key, row in sorted(rows.items()):
        if key not in want and row["level"] is not None:
            problems.append(
                f"{districts.names.get(key, key)}: page says {row['label']}, model none"
            )
    if problems:
        report.add("surface:page_in_force", "notices page ≠ model: " + "; ".join(problems))
    history = []
    for key, ids in sorted(named.items()):
        row = rows.get(key)
        shown = row["ids"] if row else set()
        if not ids <= shown:
            history.append(
                f"{districts.names.get(key, key)}: history lists {sorted(shown)}, "
                f"missing the issued editions {sorted(ids - shown)}"
            )
    if history:
        report.add("page_history", "per-district history incomplete: " + "; ".join(history))


# --- the texts of one issued edition ---------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What the texts and CAP of one issued edition must say."""

    action: str
    level: int
    hazard: str
    affected: tuple[str, ...]  # district keys the edition is about (issued or lifted)
    remaining: tuple[str, ...]  # a partial 解除: the chain's districts that stay in force
    time: datetime  # the time of issue the texts must state
    earlier_times: tuple[datetime, ...]  # the issue times of the chain's earlier editions
    draft_time: datetime
    msg_type: str
    references: tuple[Edition, ...]  # every earlier issued edition of the chain


def channel_texts(texts: dict) -> dict[str, str]:
    mail = texts.get("mail") or {}
    web = texts.get("web") or {}
    return {
        "radio": texts.get("radio") or "",
        "mail_title": mail.get("title") or "",
        "mail_body": mail.get("body") or "",
        "web_long": web.get("long") or "",
        "web_short": web.get("short") or "",
        "en": texts.get("en") or "",
        "easy_ja": texts.get("easy_ja") or "",
    }


def _plain(channel: str, text: str) -> str:
    """The text without furigana (やさしい日本語 writes 高新田(たかしんでん)), so names match."""
    return FURIGANA.sub("", text) if channel == "easy_ja" else text


def _names_problem(channel: str, text: str, want: Expected, districts: Districts) -> str | None:
    english = channel == "en"
    table = districts.english if english else districts.names
    found = set(districts.pattern(english).findall(_plain(channel, text)))
    groups = [("affected", want.affected), ("remaining", want.remaining)]
    allowed = {table[k] for _role, keys in groups for k in keys}
    problems = []
    extra = found - allowed
    if extra:
        problems.append(f"names districts it is not about: {sorted(extra)}")
    for role, keys in groups:
        if not keys:
            continue
        names = [table[k] for k in keys]
        if set(names) <= found:
            continue
        if channel in SHORTENING:
            short = re.findall(rf"({'|'.join(map(re.escape, names))})ほか(\d+)地区", text)
            if any(int(n) == len(names) - 1 for _name, n in short):
                continue
        problems.append(f"does not name the {role} districts {sorted(set(names) - found)}")
    return "; ".join(problems) or None


def check_texts(report: Report, texts: dict, want: Expected, districts: Districts, limits=None):
    """Every public text of the edition: the districts, the time, no legacy term, the mail
    limits, and for a 解除 a headline that says 解除 (one problem per rule and channel)."""
    limits = limits or Limits()
    channels = channel_texts(texts)
    for channel, text in channels.items():
        for term in LEGACY_TERMS:
            if term in text:
                report.add("legacy_term", f"{channel} contains {term}: {text!r}")
    for channel in NAMED:
        problem = _names_problem(channel, channels[channel], want, districts)
        if problem:
            kind = "partial_lift_names" if want.remaining and "remaining" in problem else "names"
            report.add(
                f"{kind}:{channel}",
                f"{channel} {problem} (affected "
                f"{[districts.names[k] for k in want.affected]}, remaining "
                f"{[districts.names[k] for k in want.remaining]}): {channels[channel]!r}",
            )
    ja_allowed = {f.reading_time(t) for t in (want.time, *want.earlier_times)}
    en_allowed = {f.en_datetime(t) for t in (want.time, *want.earlier_times)}
    for channel in TIMED:
        text = _plain(channel, channels[channel])
        wanted, allowed, times = (
            (f.en_datetime(want.time), en_allowed, EN_TIME.findall(text))
            if channel == "en"
            else (f.reading_time(want.time), ja_allowed, JA_TIME.findall(text))
        )
        stray = [t for t in times if t not in allowed]
        if wanted not in times or stray:
            kind = "time_is_draft_time" if _is_draft_time(channel, stray, want) else "time"
            report.add(
                f"{kind}:{channel}",
                f"{channel} should state the issue time {wanted} (drafted "
                f"{f.reading_time(want.draft_time)}), it says {times}: {channels[channel]!r}",
            )
    for channel, limit in (
        ("mail_title", limits.mail_title),
        ("mail_body", limits.mail_body),
        ("web_short", limits.web_short),
    ):
        if full_width_length(channels[channel]) > limit:
            report.add(
                f"limit:{channel}",
                f"{channel} has {full_width_length(channels[channel])} > {limit} characters",
            )
    if want.action == LIFT:
        for channel, text in channels.items():
            problem = lift_headline_problem(channel, _plain(channel, text))
            if problem:
                report.add(f"lift_headline:{channel}", f"{problem}: {text!r}")


def _is_draft_time(channel: str, stray: list[str], want: Expected) -> bool:
    draft = f.en_datetime(want.draft_time) if channel == "en" else f.reading_time(want.draft_time)
    return draft in stray


LEVEL_WORDS = re.compile(
    r"警戒(?:\(けいかい\))?レベル|Alert Level|" + "|".join(f.LEVEL_NAMES.values())
)


def lift_headline_problem(channel: str, text: str) -> str | None:
    """The headline of a 解除 (its first line that names the level, past an exercise mark)
    says 解除 (English: lifted), is no 発令 headline, and a 【…】 opening it says 解除 too."""
    text = text.removeprefix(f.EXERCISE_MARK).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    headline = next((line for line in lines if LEVEL_WORDS.search(line)), lines[0] if lines else "")
    if channel == "mail_body":
        headline = headline.split("。")[0]
    lift_word = "lift" if channel == "en" else "解除"
    if lift_word not in headline.lower() and lift_word not in headline:
        return f"the {channel} headline of a 解除 does not say {lift_word}: {headline!r}"
    if re.search(r"緊急放送|を発令|発令しました|\bissued\b", headline):
        return f"the {channel} headline of a 解除 reads like a 発令: {headline!r}"
    bracket = re.match(r"^【([^】]*)】", headline)
    if bracket and "解除" not in bracket.group(1):
        return f"the {channel} headline of a 解除 opens like a 発令 with 【{bracket.group(1)}】"
    return None


def check_cap(report: Report, xml: str, identifier: str, want: Expected, districts) -> str:
    """The CAP of the edition: valid against the XSD, the right msgType, references to every
    earlier issued edition (with the sent time each was issued with), areas = the affected
    districts, sent = the time of issue, no legacy term. Returns its <sent>."""
    try:
        cap_renderer.validate(xml)
    except Exception as exc:
        report.add("cap_xsd", f"CAP does not validate: {exc}")
    for term in LEGACY_TERMS:
        if term in xml:
            report.add("legacy_term", f"CAP contains {term}")
    try:
        root = etree.fromstring(xml.encode("utf-8"))
    except etree.XMLSyntaxError as exc:
        report.add("cap_xsd", f"CAP is not XML: {exc}")
        return ""
    msg_type = root.findtext("c:msgType", namespaces=CAP_NS)
    if msg_type != want.msg_type:
        report.add(
            f"cap_msgtype:{want.msg_type}",
            f"msgType {msg_type}, expected {want.msg_type} for a "
            f"{'partial ' if want.remaining else ''}{want.action}",
        )
    if root.findtext("c:identifier", namespaces=CAP_NS) != identifier:
        report.add("cap_identifier", "the CAP identifier is not the notice's")
    sent = root.findtext("c:sent", namespaces=CAP_NS) or ""
    if sent[:16] != cap_renderer.cap_time(want.time)[:16]:
        drafted = sent[:16] == cap_renderer.cap_time(want.draft_time)[:16]
        report.add(
            "time_is_draft_time:cap" if drafted else "cap_sent",
            f"CAP sent {sent}, expected the issue time {cap_renderer.cap_time(want.time)}",
        )
    triplets = (root.findtext("c:references", namespaces=CAP_NS) or "").split()
    seen = {}
    for triplet in triplets:
        parts = triplet.split(",")
        if len(parts) == 3:
            seen[parts[1]] = parts[2]
    wanted = {e.identifier: e.sent for e in want.references}
    if set(seen) != set(wanted) or len(triplets) != len(seen):
        report.add(
            "cap_references",
            f"references {sorted(seen)}, expected every earlier edition {sorted(wanted)}",
        )
    wrong = {i: (s, wanted[i]) for i, s in seen.items() if i in wanted and s != wanted[i]}
    if wrong:
        report.add("cap_reference_sent", f"references carry sent times other than issued: {wrong}")
    names = sorted(districts.names[k] for k in want.affected)
    for info in root.iterfind("c:info", CAP_NS):
        language = info.findtext("c:language", namespaces=CAP_NS)
        areas = sorted(a.text for a in info.iterfind("c:area/c:areaDesc", CAP_NS))
        if areas != names:
            report.add("cap_areas", f"CAP {language} areas {areas}, expected {names}")
        if want.action == LIFT:
            problem = lift_headline_problem(
                "en" if language == "en-US" else "cap",
                FURIGANA.sub("", info.findtext("c:headline", namespaces=CAP_NS) or ""),
            )
            if problem:
                report.add("lift_headline:cap", f"CAP {language}: {problem}")
    return sent
