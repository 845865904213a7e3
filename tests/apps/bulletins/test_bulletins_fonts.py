"""The bulletin PDF on a machine without system fonts: the packaged IPAexGothic is embedded, the
Japanese text reads back (pypdf, no poppler), and the 状況図 page's map has real glyphs. With no
Japanese font at all, the PDF says so on its first page.

The bulletin is issued and rendered in a subprocess whose fontconfig and matplotlib see no system
font (disaster_ai.testing.run_without_system_fonts), on the database the fixtures filled.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from bulletin_helpers import T0

from disaster_ai.fonts import MISSING_NOTE
from disaster_ai.testing import run_without_system_fonts

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)]

ISSUE_SCRIPT = """
import json, sys
from datetime import datetime, timedelta
from disaster_ai import fonts
mode, database_url, instance, out, event_id, now = sys.argv[1:7]
if mode == "no-package-font":
    fonts.bundled_font_path = lambda: None
from disaster_ai.app import create_app
from disaster_ai.apps.bulletins import service
from disaster_ai.apps.bulletins.models import Bulletin
from disaster_ai.storage import get_storage, session_scope

app = create_app({"TESTING": True, "DATABASE_URL": database_url, "LOAD_ENTRY_POINTS": False,
                  "PLUGINS_DIR": instance + "/no-plugins", "SECRET_KEY": "test-secret",
                  "LOG_LEVEL": "WARNING"}, instance_path=instance)
moment = datetime.fromisoformat(now)
app.extensions["disaster_ai.bulletins.clock"] = lambda: moment
result = service.issue_bulletin(app, int(event_id))
with app.app_context(), session_scope(get_storage(app)) as session:
    row = session.get(Bulletin, result.bulletin_id)
    pdf = service.render_bulletin(row, "pdf")[0]
    png = row.map_png
open(out + "/bulletin.pdf", "wb").write(pdf)
open(out + "/map.png", "wb").write(png)
font = fonts.japanese_font()
print(json.dumps({"source": font.source, "family": font.family}))
"""


def _issue_without_system_fonts(database_url, tmp_path, event_id, mode="normal"):
    out = tmp_path / mode
    out.mkdir()
    now = (T0 + timedelta(hours=1)).isoformat()
    result = run_without_system_fonts(
        ISSUE_SCRIPT,
        tmp_path,
        mode,
        database_url,
        str(tmp_path / "instance"),
        str(out),
        str(event_id),
        now,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report, (out / "bulletin.pdf").read_bytes(), (out / "map.png").read_bytes()


def _pdf_text_and_fonts(pdf: bytes) -> tuple[str, set[str]]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    fonts = set()
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    return text, fonts


def test_the_pdf_embeds_the_packaged_font_and_its_text_reads_back(
    live, event, database_url, tmp_path
):
    report, pdf, png = _issue_without_system_fonts(database_url, tmp_path, event["id"])
    assert report == {"source": "bundled", "family": "IPAexGothic"}
    text, fonts = _pdf_text_and_fonts(pdf)
    # every font in the PDF is the packaged Japanese one, embedded as a subset ("ABCDEF+")
    assert fonts and all(name.split("+")[-1] == "IPAexGothic" for name in fonts), fonts
    for phrase in ("第1報", "令和8年台風第10号", "被害の状況", "避難所の状況", "別添 状況図"):
        assert phrase in text.replace("\u3000", " "), phrase
    assert MISSING_NOTE not in text
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_without_any_japanese_font_the_pdf_says_so(live, event, database_url, tmp_path):
    report, pdf, _ = _issue_without_system_fonts(
        database_url, tmp_path, event["id"], mode="no-package-font"
    )
    assert report["source"] == "missing"
    text, fonts = _pdf_text_and_fonts(pdf)
    # pypdf reads the fallback font's two-byte codes with a NUL before each Latin letter
    text = text.replace("\x00", "")
    assert "No Japanese font" in text and "fonts-noto-cjk" in text
    assert not any("IPAexGothic" in name or "CJK" in name for name in fonts)
