"""The situation document (JSON), its Japanese text and the static PNG map.

``build_situation(session, hazard, since, now)`` reads the active layers, the shelter status and
the incidents (merged ones left out), runs analysis.py and returns one JSON-ready dict whose schema
is in docs/situation.md. ``render_text_ja(doc)`` and ``render_png(...)`` are built only from that
document (the map also from the frames behind it), so the same inputs give the same bytes.

This module is the public face; the work is in ``report/``: common.py (schema, words, settings),
build.py (database reads, analyses, sections), text_ja.py (the Japanese report), map.py (the PNG).
"""

from __future__ import annotations

from disaster_ai.apps.situation.report.build import (  # noqa: F401
    INCIDENT_COLUMNS,
    _attribution,
    _cache,
    _config,
    build_situation,
    compute_situation,
    read_incidents,
    situation_from_frames,
)
from disaster_ai.apps.situation.report.common import (  # noqa: F401
    CATEGORY_JA,
    CREDIT_PREFIXES,
    HAZARD_JA,
    MAX_HOTSPOTS_LISTED,
    SCHEMA,
    STATE_ORDER,
    Settings,
    Situation,
    check_aware,
    check_hazard,
    credit_items,
    iso,
)
from disaster_ai.apps.situation.report.map import (  # noqa: F401
    STATE_LABEL,
    STATE_STYLE,
    png_bytes,
    render_png,
)
from disaster_ai.apps.situation.report.text_ja import render_text_ja  # noqa: F401
