"""Hooks of the AI governance app, registered when the app loads.

The app adds these specifications from its ``dai_add_hookspecs``; while it is disabled they do
not exist (an app or plugin implementing them is logged, not refused). docs/plugins.md
documents each one.
"""

from disaster_ai import hookspec


@hookspec
def dai_ai_components(app):
    """Return a list of :class:`disaster_ai.types.AIComponent` (or dicts with its keys): the
    AI engines and models your plugin runs, for the model inventory (``/apps/governance``,
    ``disaster-ai ai inventory``). Name the real weight files in ``weights``: the desk hashes
    them (sha256) when asked and caches the digest. ``features`` name the AI features the
    component serves; each needs a risk sheet (``dai_ai_risk_sheets``)."""


@hookspec
def dai_ai_risk_sheets():
    """Return a list of paths of TOML risk sheets (one per AI feature) that your plugin ships:
    ``feature``, ``title_ja``/``title_en``, and for each of the four viewpoints of the Digital
    Agency's 高リスク判定シート (``users``, ``work``, ``training``, ``human_review``) an
    ``answer_ja``/``answer_en`` and ``higher_risk`` (true/false). docs/governance.md shows one.
    A feature named by a component without a sheet is flagged on the CAIO's page."""
