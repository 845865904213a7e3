"""Risk sheets: one TOML file per AI feature, shipped with the feature (``dai_ai_risk_sheets``),
answering the four viewpoints of the Digital Agency's 高リスク判定シート (DS-920): who the users
are, the nature of the work, whether confidential data is used for training, whether staff
judge the output. A feature named by an inventory component without a sheet is flagged."""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import lazy_gettext as _l

from disaster_ai.apps.governance.inventory import components
from disaster_ai.plugins import collect_by_plugin

log = logging.getLogger(__name__)

VIEWPOINTS = (
    ("users", _l("Who the users are")),
    ("work", _l("The nature of the work")),
    ("training", _l("Confidential data used for training")),
    ("human_review", _l("Staff judge the output")),
)


@dataclass(frozen=True)
class RiskSheet:
    feature: str
    title_ja: str
    title_en: str
    answers: dict = field(default_factory=dict, hash=False)  # viewpoint → {ja, en, higher}
    plugin: str = ""
    path: str = ""

    def title(self, locale: str) -> str:
        return self.title_en if locale.startswith("en") and self.title_en else self.title_ja

    def answer(self, viewpoint: str, locale: str) -> str:
        entry = self.answers.get(viewpoint) or {}
        if locale.startswith("en") and entry.get("en"):
            return entry["en"]
        return entry.get("ja", "")

    def higher_risk(self, viewpoint: str) -> bool:
        return bool((self.answers.get(viewpoint) or {}).get("higher"))

    @property
    def any_higher_risk(self) -> bool:
        return any(self.higher_risk(v) for v, _label in VIEWPOINTS)


class RiskSheetError(ValueError):
    pass


def load_sheet(path: str | Path, plugin: str = "") -> RiskSheet:
    """Read and check one sheet: every viewpoint must have a Japanese answer."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RiskSheetError(f"{path}: {exc}") from exc
    feature = str(data.get("feature") or "").strip()
    if not feature:
        raise RiskSheetError(f"{path}: no 'feature'")
    answers = {}
    for viewpoint, _label in VIEWPOINTS:
        entry = data.get(viewpoint)
        if not isinstance(entry, dict) or not str(entry.get("answer_ja") or "").strip():
            raise RiskSheetError(f"{path}: [{viewpoint}] needs answer_ja")
        answers[viewpoint] = {
            "ja": str(entry["answer_ja"]).strip(),
            "en": str(entry.get("answer_en") or "").strip(),
            "higher": bool(entry.get("higher_risk", False)),
        }
    return RiskSheet(
        feature,
        str(data.get("title_ja") or feature),
        str(data.get("title_en") or ""),
        answers,
        plugin,
        str(path),
    )


def sheets(app) -> tuple[dict[str, RiskSheet], list[str]]:
    """The sheets by feature, and the problems found (an unreadable sheet is left out and
    listed; for the same feature the plugin called first wins)."""
    found: dict[str, RiskSheet] = {}
    problems = []
    pm = app.extensions["disaster_ai"]
    for plugin, path in collect_by_plugin(pm, "dai_ai_risk_sheets"):
        try:
            sheet = load_sheet(path, plugin)
        except RiskSheetError as exc:
            log.error("plugin %s: bad risk sheet: %s", plugin, exc)
            problems.append(f"{plugin}: {exc}")
            continue
        found.setdefault(sheet.feature, sheet)
    return found, problems


def overview(app) -> dict:
    """Features side by side: each feature the inventory names, with its sheet (or None: the
    feature is flagged), the components serving it, and the sheets no component names."""
    by_feature, problems = sheets(app)
    features: dict[str, dict] = {}
    for _plugin, component in components(app):
        for feature in component.features:
            entry = features.setdefault(
                feature, {"feature": feature, "sheet": by_feature.get(feature), "components": []}
            )
            entry["components"].append(component.id)
    for feature, sheet in by_feature.items():
        features.setdefault(feature, {"feature": feature, "sheet": sheet, "components": []})
    rows = sorted(features.values(), key=lambda row: row["feature"])
    return {
        "features": rows,
        "missing": [row["feature"] for row in rows if row["sheet"] is None],
        "problems": problems,
    }


def markdown(app, locale: str = "ja") -> str:
    """The sheets as one Markdown document (for the municipality's 利活用ルール)."""
    from flask_babel import gettext as _

    data = overview(app)
    lines = [f"# {_('AI risk sheets')}", ""]
    for row in data["features"]:
        sheet = row["sheet"]
        title = sheet.title(locale) if sheet else row["feature"]
        lines += [f"## {title} (`{row['feature']}`)", ""]
        if row["components"]:
            lines += [f"{_('Components')}: {', '.join(row['components'])}", ""]
        if sheet is None:
            lines += [f"**{_('No risk sheet: this feature has not been assessed.')}**", ""]
            continue
        lines += [f"| {_('Viewpoint')} | {_('Answer')} | {_('Higher risk')} |", "|---|---|---|"]
        for viewpoint, label in VIEWPOINTS:
            answer = sheet.answer(viewpoint, locale).replace("|", "\\|").replace("\n", " ")
            higher = _("yes") if sheet.higher_risk(viewpoint) else _("no")
            lines.append(f"| {label} | {answer} | {higher} |")
        lines.append("")
    return "\n".join(lines)
