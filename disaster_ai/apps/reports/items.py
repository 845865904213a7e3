"""The item catalogue of the damage report (第4号様式): the packaged data file, the
municipality's own files (REPORT_ITEMS_FILES) and the plugins' ``dai_report_items``.

An item is named by its Japanese path (「住家被害.床上浸水.棟」); its kind says what a value may
be: ``count`` (a whole number ≥ 0), ``decimal`` (≥ 0, two decimals at most: ha) or ``text``.
A ``sum`` item is derived from others and never entered; an ``auto`` item is filled from the
notices and shelters when a report is issued.
"""

from __future__ import annotations

import logging
import tomllib
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)


def _(message: str, **params) -> str:
    """gettext inside the app (requests, CLI, jobs), the English text outside it."""
    from flask import has_app_context

    if has_app_context():
        from flask_babel import gettext

        return gettext(message, **params)
    return message % params if params else message


KINDS = ("count", "decimal", "text")
FORMS = ("その1", "その2")
AUTO_SOURCES = (
    "notices.5",
    "notices.4",
    "notices.3",
    "shelters.open",
    "shelters.people",
    "shelters.households",
    "shelters.vulnerable",
)
MAX_PATH = 128
MAX_TEXT = 2000
MAX_NUMBER = Decimal("999999999999")
MAX_NUMBER_TEXT = f"{MAX_NUMBER:,}"


class ItemError(ValueError):
    """A bad item definition, an unknown item or a value the item cannot take. ``item`` names
    the item path (or the definition's file) for the message."""

    def __init__(self, item: str, message: str):
        super().__init__(message)
        self.item = item
        self.message = message


@dataclass(frozen=True)
class ReportItem:
    """One item of the form. ``dai_report_items`` returns these (or dicts with the same keys)."""

    path: str
    unit: str = ""
    kind: str = "count"
    forms: tuple[str, ...] = ("その2",)
    sum: tuple[str, ...] = ()
    auto: str = ""
    label: str = ""
    note: str = ""
    origin: str = ""  # where the definition came from (file, plugin); set by the catalogue

    @property
    def group(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def name(self) -> str:
        """The label the PDF prints: ``label``, else the path without its group."""
        if self.label:
            return self.label
        parts = self.path.split(".")
        return "・".join(parts[1:]) if len(parts) > 1 else parts[0]

    @property
    def derived(self) -> bool:
        return bool(self.sum)

    @property
    def enterable(self) -> bool:
        return not self.sum and not self.auto


@dataclass(frozen=True)
class ProposalRule:
    """A confirmed incident of ``category`` proposes ``item`` + 1 (or + its head count)."""

    category: str
    item: str
    people: bool = False


@dataclass(frozen=True)
class Catalogue:
    items: tuple[ReportItem, ...]
    proposals: tuple[ProposalRule, ...] = ()
    by_path: dict = field(default_factory=dict, hash=False, compare=False)

    def get(self, path: str) -> ReportItem:
        item = self.by_path.get(normalise_path(path))
        if item is None:
            raise ItemError(
                path, _("Unknown item %(path)s: `disaster-ai reports items` lists them.", path=path)
            )
        return item

    def enterable(self) -> list[ReportItem]:
        return [i for i in self.items if i.enterable]

    def groups(self) -> list[tuple[str, list[ReportItem]]]:
        out: dict[str, list[ReportItem]] = {}
        for item in self.items:
            out.setdefault(item.group, []).append(item)
        return list(out.items())

    def rule_for(self, category: str) -> ProposalRule | None:
        return next((r for r in self.proposals if r.category == category), None)


def normalise_path(path: str) -> str:
    """NFKC (full-width dots and digits typed on a Japanese keyboard), ．and ・ between parts
    accepted as dots, no spaces."""
    text = unicodedata.normalize("NFKC", str(path or "")).strip()
    return ".".join(part.strip() for part in text.replace("．", ".").split("."))


def _item_from(data, origin: str) -> ReportItem:
    if isinstance(data, ReportItem):
        data = {k: getattr(data, k) for k in ReportItem.__dataclass_fields__}
    if not isinstance(data, dict):
        raise ItemError(origin, _("%(origin)s: an item must be a table.", origin=origin))
    unknown = set(data) - set(ReportItem.__dataclass_fields__)
    if unknown:
        raise ItemError(
            origin,
            _("%(origin)s: unknown keys %(keys)s.", origin=origin, keys=", ".join(sorted(unknown))),
        )
    path = normalise_path(data.get("path", ""))
    if not path or len(path) > MAX_PATH or "" in path.split(".") or "=" in path:
        raise ItemError(
            origin,
            _("%(origin)s: bad item path %(path)s.", origin=origin, path=repr(data.get("path"))),
        )
    kind = data.get("kind", "count")
    if kind not in KINDS:
        raise ItemError(
            path,
            _(
                "%(origin)s: %(path)s: kind must be count, decimal or text.",
                origin=origin,
                path=path,
            ),
        )
    forms = tuple(data.get("forms") or ("その2",))
    if any(f not in FORMS for f in forms):
        raise ItemError(
            path,
            _("%(origin)s: %(path)s: forms must be その1 and/or その2.", origin=origin, path=path),
        )
    auto = str(data.get("auto") or "")
    if auto and auto not in AUTO_SOURCES:
        raise ItemError(
            path,
            _(
                "%(origin)s: %(path)s: auto must be one of %(names)s.",
                origin=origin,
                path=path,
                names=", ".join(AUTO_SOURCES),
            ),
        )
    total = tuple(normalise_path(p) for p in data.get("sum") or ())
    if total and kind == "text":
        raise ItemError(
            path, _("%(origin)s: %(path)s: a text item cannot be a sum.", origin=origin, path=path)
        )
    return ReportItem(
        path=path,
        unit=str(data.get("unit") or ""),
        kind=kind,
        forms=forms,
        sum=total,
        auto=auto,
        label=str(data.get("label") or ""),
        note=str(data.get("note") or ""),
        origin=str(data.get("origin") or origin),
    )


def _read_toml(text: str, origin: str) -> tuple[list[ReportItem], list[ProposalRule]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ItemError(
            origin, _("%(origin)s: not valid TOML: %(error)s", origin=origin, error=str(exc))
        ) from None
    items = [_item_from(entry, origin) for entry in data.get("items") or []]
    rules = []
    for entry in data.get("proposals") or []:
        if not isinstance(entry, dict) or not entry.get("category") or not entry.get("item"):
            raise ItemError(
                origin, _("%(origin)s: a proposal needs category and item.", origin=origin)
            )
        rules.append(
            ProposalRule(
                str(entry["category"]), normalise_path(entry["item"]), bool(entry.get("people"))
            )
        )
    return items, rules


def packaged_text() -> str:
    return (
        resources.files("disaster_ai.apps.reports")
        .joinpath("data")
        .joinpath("items.toml")
        .read_text(encoding="utf-8")
    )


def build_catalogue(
    extra_files: list[Path] | None = None, plugin_items: list[tuple[str, object]] | None = None
) -> Catalogue:
    """The packaged items, then each file, then each plugin's items; a later definition of a
    path replaces the earlier one in place, a new path goes after the last item of its group
    (or at the end). Raises ItemError on anything inconsistent."""
    items, rules = _read_toml(packaged_text(), "items.toml")
    order: list[ReportItem] = list(items)
    for path in extra_files or []:
        more, more_rules = _read_toml(Path(path).read_text(encoding="utf-8"), str(path))
        order = _merge(order, more)
        rules = _merge_rules(rules, more_rules)
    for plugin, entry in plugin_items or []:
        order = _merge(order, [_item_from(entry, f"plugin {plugin}")])
    by_path = {item.path: item for item in order}
    for item in order:
        for part in item.sum:
            target = by_path.get(part)
            if target is None:
                raise ItemError(
                    item.path,
                    _("%(path)s: sums an unknown item %(part)s.", path=item.path, part=part),
                )
            if target.kind == "text" or target.derived or target.auto:
                raise ItemError(
                    item.path,
                    _(
                        "%(path)s: may only sum entered numbers (%(part)s).",
                        path=item.path,
                        part=part,
                    ),
                )
    for rule in rules:
        target = by_path.get(rule.item)
        if target is None or not target.enterable or target.kind == "text":
            raise ItemError(
                rule.item,
                _(
                    "Proposal for %(category)s: %(path)s is not a number item.",
                    category=rule.category,
                    path=rule.item,
                ),
            )
    return Catalogue(tuple(order), tuple(rules), by_path)


def _merge(order: list[ReportItem], more: list[ReportItem]) -> list[ReportItem]:
    order = list(order)
    for item in more:
        index = next((i for i, old in enumerate(order) if old.path == item.path), None)
        if index is not None:
            order[index] = item
            continue
        last = max((i for i, old in enumerate(order) if old.group == item.group), default=None)
        order.insert(len(order) if last is None else last + 1, item)
    return order


def _merge_rules(rules: list[ProposalRule], more: list[ProposalRule]) -> list[ProposalRule]:
    kept = {r.category: r for r in rules}
    kept.update({r.category: r for r in more})
    return list(kept.values())


def catalogue_for(app) -> Catalogue:
    """The app's catalogue, built once (REPORT_ITEMS_FILES relative to the instance folder)."""
    cached = app.extensions.get("disaster_ai.reports.items")
    if cached is not None:
        return cached
    from disaster_ai.plugins import collect_by_plugin

    files = []
    for name in app.config.get("REPORT_ITEMS_FILES") or []:
        path = Path(name)
        files.append(path if path.is_absolute() else Path(app.instance_path) / path)
    plugin_items = collect_by_plugin(app.extensions["disaster_ai"], "dai_report_items")
    catalogue = build_catalogue(files, plugin_items)
    app.extensions["disaster_ai.reports.items"] = catalogue
    return catalogue


# --- values ----------------------------------------------------------------------------------


def parse_value(item: ReportItem, raw) -> str:
    """The canonical text of a value for this item (what the tally stores), or ItemError.

    Numbers accept full-width digits and thousands separators; counts are whole numbers ≥ 0,
    decimals (ha) have at most two decimals."""
    if not item.enterable:
        raise ItemError(
            item.path, _("%(path)s is computed by the desk and cannot be entered.", path=item.path)
        )
    if item.kind == "text":
        text = unicodedata.normalize("NFC", str(raw if raw is not None else "")).strip()
        if not text or len(text) > MAX_TEXT:
            raise ItemError(
                item.path,
                _(
                    "%(path)s: give a text of 1 to %(max)s characters.",
                    path=item.path,
                    max=MAX_TEXT,
                ),
            )
        return text
    if isinstance(raw, bool):
        raise ItemError(item.path, _("%(path)s: give a number.", path=item.path))
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip()
    text = text.replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ItemError(
            item.path, _("%(path)s: %(value)s is not a number.", path=item.path, value=str(raw))
        ) from None
    if not number.is_finite() or number < 0 or number > MAX_NUMBER:
        raise ItemError(
            item.path,
            _("%(path)s: give a number from 0 to %(max)s.", path=item.path, max=MAX_NUMBER_TEXT),
        )
    if item.kind == "count":
        if number != number.to_integral_value():
            raise ItemError(
                item.path,
                _("%(path)s: give a whole number (%(unit)s).", path=item.path, unit=item.unit),
            )
        return str(int(number))
    if number.as_tuple().exponent < -2 and number != number.quantize(Decimal("0.01")):
        raise ItemError(
            item.path,
            _("%(path)s: give at most two decimals (%(unit)s).", path=item.path, unit=item.unit),
        )
    return format_decimal(number)


def format_decimal(number: Decimal) -> str:
    text = f"{number.quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return text or "0"


def as_number(value: str | None):
    """A stored value as int or float for JSON and XLSX (None stays None)."""
    if value is None:
        return None
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)
