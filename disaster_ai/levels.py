"""The one registry of 警戒レベル for 避難情報 (STANDARDS.md §2.1): each level's official name, its
English name, its やさしい日本語 form with readings, its short form and its colours.

Every app reads the levels from here (the notices' wording and guard, the map, the dashboard,
the bulletins, the reports, the CSS of the level badges); nothing else spells a level's name or
colour. The levels are fixed by the national guideline, so plugins read them (also through
``disaster_ai.desk``) but do not add any. The legacy names that the 2021 revision retired are
here too (:data:`LEGACY_NAMES`): no output and no plugin's vocabulary may use them.

The 避難情報 names stay in Japanese in every language on the desk (they are the official names);
``en`` is the English name for English output (CAP ``event``, the English notice).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlertLevel:
    """One 警戒レベル of 避難情報. ``fill`` is the standard colour; ``text`` the colour of anything
    written on that fill (WCAG AA, contrast ≥ 4.5:1)."""

    level: int
    ja: str  # the official name: 避難指示
    en: str  # English name: Evacuation Instruction
    easy_ja: str  # with readings, for やさしい日本語
    fill: str
    text: str

    @property
    def short(self) -> str:
        """「Lv4」: where the number alone has to do (a map tooltip)."""
        return f"Lv{self.level}"

    @property
    def heading_ja(self) -> str:
        """「警戒レベル4 避難指示」."""
        return f"警戒レベル{self.level} {self.ja}"


# Lv3's standard red (#ff2800) gives white text only 3.8:1, so Lv3 text is black (5.6:1).
LEVELS: dict[int, AlertLevel] = {
    level.level: level
    for level in (
        AlertLevel(
            5, "緊急安全確保", "Emergency Safety Measures",
            "緊急安全確保(きんきゅう あんぜん かくほ)", "#0c000c", "#ffffff",
        ),
        AlertLevel(
            4, "避難指示", "Evacuation Instruction",
            "避難指示(ひなんしじ)", "#aa00aa", "#ffffff",
        ),
        AlertLevel(
            3, "高齢者等避難", "Evacuation of Elderly People, etc.",
            "高齢者等避難(こうれいしゃとう ひなん)", "#ff2800", "#000000",
        ),
    )
}  # fmt: skip

# Retired by the 2021 revision (STANDARDS.md §2.2): forbidden in every output and vocabulary.
LEGACY_NAMES = ("避難勧告", "避難準備・高齢者等避難開始", "避難準備情報", "災害発生情報")


def names(language: str = "ja") -> dict[int, str]:
    """level → name in ``language`` (``ja``, ``en`` or ``easy_ja``), lowest level first."""
    return {n: getattr(LEVELS[n], language) for n in sorted(LEVELS)}


def colours() -> dict[int, dict[str, str]]:
    """level → ``{"fill": …, "text": …}``, highest level first."""
    return {n: {"fill": lv.fill, "text": lv.text} for n, lv in LEVELS.items()}


def level(number) -> AlertLevel | None:
    """The level ``number`` (3, 4, 5), or None for anything else (bools included)."""
    if isinstance(number, bool):
        return None
    try:
        return LEVELS.get(int(number))
    except (TypeError, ValueError):
        return None


def badge_css(selector: str = ".level-badge.lv-{level}") -> str:
    """CSS rules that colour a level badge (``selector`` with ``{level}``), from the registry:
    templates put it in a ``<style>`` block so that no stylesheet repeats the colours."""
    return "\n".join(
        f"{selector.format(level=n)} {{ background: {lv.fill}; color: {lv.text}; }}"
        for n, lv in LEVELS.items()
    )
