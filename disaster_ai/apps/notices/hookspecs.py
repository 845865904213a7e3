"""Hooks of the notices app (避難情報), registered when the app loads.

The app adds these specifications to the plugin manager from its ``dai_add_hookspecs``; while
the app is disabled they do not exist. docs/plugins.md documents each one.
"""

from disaster_ai import hookspec


@hookspec
def dai_notice_templates(locale):
    """Return a dict ``{template name: Jinja2 source}`` of evacuation-notice templates, e.g.
    ``{"radio.txt": "…"}`` or ``{"radio/landslide_4.txt": "…"}`` (docs/notices.md lists the
    names and variables). They override the package's templates; the instance folder
    ``templates/notices/`` overrides them in turn. ``locale`` is ``"ja"``. A template that
    contains a forbidden legacy term (避難勧告 …) is refused when it is used."""


@hookspec
def dai_notice_hazards():
    """Return a list of :class:`disaster_ai.types.NoticeHazard`: hazards an evacuation notice
    can be about (code, Japanese/English/やさしい日本語 words, reason phrases, per-level action
    wording, CAP category and eventCode, the situation hazard whose shelter designations and
    zones apply). The notices app's own implementation (``trylast``) gives 洪水, 内水氾濫,
    土砂災害, 高潮 and 津波; a plugin's definition with the same code replaces the built-in one.
    A definition that fails the vocabulary check (a forbidden legacy term, a required phrase
    missing from its sentence …) is refused and logged; a failing implementation is skipped."""


@hookspec
def dai_review_notice(draft):
    """Check a notice before it is approved; return a list of problem strings (empty: fine).
    ``draft`` is the notice as the API shows it (a dict: level, name, hazard, districts,
    shelters, texts, guard …). Every implementation runs; a problem, or an implementation that
    raises, blocks the approval."""


@hookspec(firstresult=True)
def dai_llm_client(purpose):
    """Return an LLM client for ``purpose`` (e.g. ``"notices.polish"``), or None. A client has
    ``name``, ``model`` and ``complete(prompt: str, max_tokens: int) -> str``. Its output only
    ever replaces a template text after the fact guard accepted it.

    firstresult: stops at the first non-None result. The core default (trylast) returns None:
    no AI polish."""
