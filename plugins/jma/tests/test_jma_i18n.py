"""Every message of the plugin has its Japanese wording in the desk's catalogue (the plugin's
ids are extracted with the core's: `make translations-extract` scans plugins/jma/dai_jma too)."""

from __future__ import annotations

from pathlib import Path

import dai_jma
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

from disaster_ai import __file__ as core_file

PACKAGE = Path(dai_jma.__file__).parent
CORE = Path(core_file).parent
BABEL_CFG = CORE.parent / "babel.cfg"


def test_every_plugin_message_has_a_japanese_translation():
    with BABEL_CFG.open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename=str(BABEL_CFG))
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(parse_keywords(["_l", "lazy_gettext"]))
    with (CORE / "translations" / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    found, missing = 0, []
    for filename, lineno, message, _c, _ctx in extract_from_dir(
        str(PACKAGE), method_map, options_map, keywords=keywords
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found += 1
                entry = catalog.get(msgid)
                if entry is None or not entry.string or entry.fuzzy:
                    missing.append(f"{msgid!r} ({filename}:{lineno})")
    assert found > 20 and not missing, "\n".join(missing)


def test_the_page_is_japanese(make_app, users):
    from jma_helpers import log_in

    app = make_app(LOAD_ENTRY_POINTS=True, PLUGINS={"jma": {}})
    page = log_in(app.test_client(), "operator").get("/apps/jma").get_data(as_text=True)
    assert "発表中の気象警報等はありません。" in page and "警戒レベル相当" in page
