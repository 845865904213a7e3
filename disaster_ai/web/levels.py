"""The web side of the 警戒レベル (the registry is ``disaster_ai.levels``: names, colours): the
label that goes with the colour everywhere (colour is never the only signal, the number and the
name are written out), the legend, contrast checks and the highest level per district.

The desk names a level in the reader's language: the official Japanese name (避難指示) on the
Japanese desk, the English name (Evacuation Instruction) on the English one. Public texts are
not touched: they keep the official names in every channel (the notices app writes them).
"""

from __future__ import annotations

from flask_babel import gettext as _

from disaster_ai import levels as registry
from disaster_ai.i18n import reader_reads_english

# read from the one registry (disaster_ai.levels); kept as names for the callers
LEVEL_NAMES = registry.names("ja")
# fill: the standard colour; text: the colour of anything written on that fill.
LEVEL_COLOURS = registry.colours()


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio of two #rrggbb colours (1 to 21)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def level_name(level: int, name: str | None = None) -> str:
    """The level's name for the reader: the official 避難指示 in Japanese, "Evacuation
    Instruction" in English (a name given in Japanese is the official one, so it is replaced)."""
    found = registry.level(level)
    if reader_reads_english() and found is not None:
        return found.en
    return name or LEVEL_NAMES.get(level, "")


def level_text(level: int, name: str | None = None) -> str:
    """「警戒レベル4 避難指示」 (Japanese) or "Alert level 4 Evacuation Instruction" (English)."""
    return f"{_('Alert level %(level)s', level=level)} {level_name(level, name)}".strip()


def level_label(level: int, name: str | None = None, hazard_label: str = "") -> str:
    """「警戒レベル4 避難指示 (洪水)」: the level, its name and the hazard."""
    text = level_text(level, name)
    return f"{text} ({hazard_label})" if hazard_label else text


def legend() -> list[dict]:
    """The map legend, highest level first: number, name, label and colours."""
    return [
        {
            "level": level,
            "name": LEVEL_NAMES[level],
            "name_en": registry.LEVELS[level].en,
            "short": registry.LEVELS[level].short,
            "label": level_text(level),
            **LEVEL_COLOURS[level],
        }
        for level in (5, 4, 3)
    ]


def highest_by_district(entries) -> dict[str, dict]:
    """district key → the ``dai_notices_in_force`` entry with the highest level there (the
    latest one when two share that level). Entries without a district or a known level are
    skipped: a plugin's malformed entry never breaks a page."""
    best: dict[str, tuple[tuple[int, str], dict]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("district_key"):
            continue
        try:
            level = int(entry.get("level") or 0)
        except (TypeError, ValueError):
            continue
        if level not in LEVEL_COLOURS:
            continue
        key = str(entry["district_key"])
        rank = (level, str(entry.get("issued_at") or ""))
        if key not in best or rank > best[key][0]:
            best[key] = (rank, dict(entry, level=level))
    return {key: entry for key, (_rank, entry) in best.items()}
