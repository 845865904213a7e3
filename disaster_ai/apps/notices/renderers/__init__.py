"""Deterministic channel renderers: facts in, text or XML out, limits checked.

Templates are Jinja2 text files, looked up in this order (first found wins):

1. ``<instance>/templates/notices/`` (a municipality's own wording);
2. the sources returned by ``dai_notice_templates(locale)`` (plugins), later plugins first;
3. the package's ``apps/notices/templates/text/``.

For each channel the most specific name is tried first: ``<channel>/<hazard>_<level>.txt``,
``<channel>/<hazard>.txt``, ``<channel>/level<level>.txt``, then ``<channel>.txt``.
A template that contains a forbidden legacy term (避難勧告 …) fails :func:`check_templates`,
and rendering with it raises :class:`TemplateCheckError`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jinja2

from disaster_ai.apps.notices import facts as f

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "text"
CHANNELS = ("radio", "mail_title", "mail_body", "web_long", "web_short", "en", "easy_ja")


class RenderError(Exception):
    """A channel could not be rendered within its limits: the drafter must fix the facts."""

    def __init__(self, channel: str, message: str):
        super().__init__(f"{channel}: {message}")
        self.channel = channel
        self.message = message


class TemplateCheckError(RenderError):
    pass


@dataclass(frozen=True)
class Limits:
    mail_title: int = 15
    mail_body: int = 200
    web_short: int = 140

    @classmethod
    def from_config(cls, config) -> Limits:
        if not config:
            return cls()
        return cls(
            int(config.get("NOTICE_MAIL_TITLE_MAX", 15)),
            int(config.get("NOTICE_MAIL_BODY_MAX", 200)),
            int(config.get("NOTICE_SNS_MAX", 140)),
        )


def full_width_length(text: str) -> int:
    """Characters as the carriers count them: one per character, half-width ones included
    (a conservative count: a half-width digit never counts less than a full-width one)."""
    return len(text.replace("\n", ""))


class Templates:
    """A Jinja2 environment over the three template sources, with the forbidden-term check."""

    def __init__(
        self,
        instance_dir: str | Path | None = None,
        plugin_sources: dict | None = None,
        hazard_problems=None,
    ):
        loaders: list[jinja2.BaseLoader] = []
        if instance_dir is not None and Path(instance_dir).is_dir():
            loaders.append(jinja2.FileSystemLoader(str(instance_dir)))
        if plugin_sources:
            loaders.append(jinja2.DictLoader(dict(plugin_sources)))
        loaders.append(jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES)))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            undefined=jinja2.StrictUndefined,
        )
        self._checked: dict[str, str] = {}
        # a callable giving the hazard definitions refused by the vocabulary check
        self._hazard_problems = hazard_problems

    def source(self, name: str) -> str:
        return self.env.loader.get_source(self.env, name)[0]

    def check(self) -> list[dict]:
        """Every template reachable in this environment that contains a forbidden term, and
        every hazard definition (``dai_notice_hazards``) refused by the vocabulary check
        (``template`` is then ``hazard:<code> (<plugin>)``)."""
        problems = []
        for name in sorted(set(self.env.list_templates())):
            problems.extend(_template_problems(name, self.source(name)))
        for problem in self._hazard_problems() if self._hazard_problems else ():
            problems.append(
                {
                    "template": f"hazard:{problem['hazard']} ({problem['plugin']})",
                    "term": problem["problem"],
                }
            )
        problems.extend(self.slot_problems())
        return problems

    def slot_problems(self, hazards=None) -> list[dict]:
        """Every channel, rendered for a probe notice (each hazard × level × 発令/解除), must
        state the issuer, the time and the district: a municipality's or a plugin's template
        that leaves a required slot out would publish 「こちらは、です。」-like texts."""
        from datetime import datetime

        from disaster_ai.storage.base import JST

        probe_time = datetime(2026, 1, 1, 13, 47, tzinfo=JST)
        district = f.District(key="probe", name="検査地区", name_kana="けんさちく")
        problems: list[dict] = []
        seen: set[tuple[str, str]] = set()
        for code in hazards or [h.code for h in f.hazards().values()]:
            for level in f.LEVEL_NAMES:
                for action in f.ACTIONS:
                    facts = f.NoticeFacts(
                        hazard=code,
                        action=action,
                        level=level,
                        districts=(district,),
                        issued_at=probe_time,
                        issuer="検査市",
                        issuer_en="Kensa City",
                    )
                    try:
                        texts = _probe_texts(facts, self)
                    except RenderError:  # a forbidden term: reported by the check above
                        continue
                    for channel, text in texts.items():
                        template = self.env.select_template(self._names(channel, code, level))
                        en = channel == "en"
                        wanted = {
                            "issuer": "Kensa City" if en else "検査市",
                            "time": f.en_datetime(probe_time) if en else f.reading_time(probe_time),
                            "district": "Kensa" if en else "検査地区",
                        }
                        for slot, value in wanted.items():
                            if value not in text and (template.name, slot) not in seen:
                                seen.add((template.name, slot))
                                problems.append(
                                    {
                                        "template": template.name,
                                        "term": f"missing slot: {slot} ({action})",
                                    }
                                )
        return problems

    @staticmethod
    def _names(channel: str, hazard: str, level: int) -> list[str]:
        return [
            f"{channel}/{hazard}_{level}.txt",
            f"{channel}/{hazard}.txt",
            f"{channel}/level{level}.txt",
            f"{channel}.txt",
        ]

    def template(self, channel: str, hazard: str, level: int) -> jinja2.Template:
        template = self.env.select_template(self._names(channel, hazard, level))
        if template.name not in self._checked:
            problems = _template_problems(template.name, self.source(template.name))
            if problems:
                raise TemplateCheckError(
                    channel,
                    f"template {template.name} contains the forbidden term {problems[0]['term']}",
                )
            self._checked[template.name] = template.name
        return template

    def render(self, channel: str, facts: f.NoticeFacts, **extra) -> str:
        context = {**base_context(facts), **extra}
        text = self.template(channel, facts.hazard, facts.level).render(context)
        return _tidy(text)


def _probe_texts(facts: f.NoticeFacts, templates: Templates) -> dict:
    """Every channel that states issuer, time and district, without the length limits."""
    from disaster_ai.apps.notices.renderers import areamail, easy_ja, english, radio, web

    unlimited = Limits(mail_title=10**6, mail_body=10**6, web_short=10**6)
    mail = areamail.render(facts, templates, unlimited)
    site = web.render(facts, templates, unlimited)
    return {
        "radio": radio.render(facts, templates),
        "mail_body": mail["body"],
        "web_long": site["long"],
        "web_short": site["short"],
        "en": english.render(facts, templates),
        "easy_ja": easy_ja.render(facts, templates),
    }


def _template_problems(name: str, source: str) -> list[dict]:
    return [{"template": name, "term": term} for term in f.FORBIDDEN if term in source]


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(line for line in lines if line)


def check_templates(templates: Templates | None = None) -> list[dict]:
    return (templates or Templates()).check()


def join_ja(names: list[str]) -> str:
    return "、".join(names)


def join_en(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def district_en(d: f.District) -> str:
    return d.romaji or d.name


def shelter_en(s: f.ShelterChoice) -> str:
    return s.romaji or s.name


def base_context(facts: f.NoticeFacts) -> dict:
    district_names = [d.name for d in facts.districts]
    shelter_names = [s.name for s in facts.shelters]
    return {
        "exercise": facts.exercise,
        "mark": f.EXERCISE_MARK if facts.exercise else "",
        "lifted": facts.lifted,
        "issuer": facts.issuer,
        "issuer_en": facts.issuer_en or facts.issuer,
        "level": facts.level,
        "name": facts.name,
        "name_en": f.LEVEL_NAMES_EN[facts.level],
        "attention": facts.attention,
        "action_sentence": facts.action_sentence,
        "action_en": facts.action_sentence_en,
        "action_easy": facts.action_sentence_easy,
        "hazard": facts.hazard,
        "hazard_ja": facts.hazard_ja,
        "hazard_en": facts.hazard_en,
        "hazard_easy": facts.hazard_easy,
        "when": f.reading_time(facts.issued_at),
        "when_en": f.en_datetime(facts.issued_at),
        "districts": facts.districts,
        "districts_text": join_ja(district_names),
        "districts_en": join_en([district_en(d) for d in facts.districts]),
        "shelters": facts.shelters,
        "shelters_text": join_ja(shelter_names),
        "shelters_en": join_en([shelter_en(s) for s in facts.shelters]),
        "fallback": f.FALLBACK,
        "fallback_en": f.FALLBACK_EN,
        "fallback_easy": f.FALLBACK_EASY,
        "reason": facts.reason,
        # a partial 解除: the districts of the same chain that stay under this level
        "remaining": facts.remaining,
        "remaining_text": join_ja([d.name for d in facts.remaining]),
        "remaining_en": join_en([district_en(d) for d in facts.remaining]),
    }


def render_all(facts: f.NoticeFacts, templates: Templates | None = None, limits=None) -> dict:
    """Every channel for one notice: the keys of the drafts API (radio, mail, web, cap, en,
    easy_ja). Raises RenderError when a channel cannot meet its limit."""
    from disaster_ai.apps.notices.renderers import areamail, cap, easy_ja, english, radio, web

    templates = templates or default_templates()
    limits = limits or Limits()
    started = time.perf_counter()
    out = {
        "radio": radio.render(facts, templates),
        "mail": areamail.render(facts, templates, limits),
        "web": web.render(facts, templates, limits),
        "en": english.render(facts, templates),
        "easy_ja": easy_ja.render(facts, templates),
    }
    out["cap"] = cap.render(facts, templates, out)
    out["render_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return out


_DEFAULT: list[Templates] = []


def default_templates() -> Templates:
    if not _DEFAULT:
        _DEFAULT.append(Templates())
    return _DEFAULT[0]
