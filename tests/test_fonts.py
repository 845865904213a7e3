"""Japanese on the static map without any system font: the packaged IPAexGothic (matplotlib-fontja
from PyPI) draws real glyphs; with no Japanese font at all, the map, the command line and the desk
pages say so. The bulletin PDF's fonts are checked in tests/apps/bulletins/test_bulletins_fonts.py.

"Without system fonts" is a subprocess (disaster_ai.testing.run_without_system_fonts) whose
fontconfig reads an empty configuration and whose matplotlib keeps only the DejaVu it ships.
"""

from __future__ import annotations

import io
import json
import warnings

import pytest

from disaster_ai import fonts
from disaster_ai.testing import require_tool, run_without_system_fonts

# Two municipality names of the same length and different characters: drawn with a real font they
# differ; drawn as missing-glyph boxes (tofu) they are the same picture.
NAME_A, NAME_B = "避難所", "遊園地"

MAP_SCRIPT = """
import json, sys
from disaster_ai import fonts
if sys.argv[1] == "no-package-font":
    fonts.bundled_font_path = lambda: None
from disaster_ai.apps.situation import summary

def doc(name):
    return {"generated_at": "2026-09-05T10:00:00+09:00", "hazard": None, "municipality": name,
            "attribution": ["出典：テスト"], "shelters": {"items": []}, "hotspots": {"items": []}}

out = sys.argv[2]
for name in sys.argv[3:]:
    with open(f"{out}/{name}.png", "wb") as handle:
        handle.write(summary.png_bytes(doc(name)))
font = fonts.japanese_font()
print(json.dumps({"source": font.source, "family": font.family, "path": font.path,
                  "message": fonts.missing_message()}))
"""


def _render_maps(tmp_path, mode: str):
    result = run_without_system_fonts(
        MAP_SCRIPT, tmp_path, mode, str(tmp_path), NAME_A, NAME_B, timeout=180
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return (
        report,
        (tmp_path / f"{NAME_A}.png").read_bytes(),
        (tmp_path / f"{NAME_B}.png").read_bytes(),
        result.stderr,
    )


def _red_pixels_in_top_band(png: bytes) -> int:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    band = pixels[: int(pixels.shape[0] * 0.03)]
    red = (band[..., 0] > 150) & (band[..., 1] < 80) & (band[..., 2] < 80)
    return int(red.sum())


@pytest.mark.slow
def test_the_map_draws_real_japanese_glyphs_without_system_fonts(tmp_path):
    report, a, b, _ = _render_maps(tmp_path, "normal")
    assert report["source"] == "bundled" and report["family"] == "IPAexGothic", report
    assert report["message"] is None
    # the packaged font really has the glyphs the map draws (no .notdef box) ...
    from fontTools.ttLib import TTFont

    cmap = TTFont(report["path"]).getBestCmap()
    assert all(ord(ch) in cmap for ch in NAME_A + NAME_B + "状況図出典：")
    # ... and they are drawn: different names give different pictures, and no warning line
    assert a != b
    assert _red_pixels_in_top_band(a) == 0


@pytest.mark.slow
def test_without_any_japanese_font_the_map_says_so(tmp_path):
    # The control that shows the check above can fail: with no Japanese font, both names are
    # drawn as the same boxes. The map then carries a red line that says why.
    report, a, b, stderr = _render_maps(tmp_path, "no-package-font")
    assert report["source"] == "missing" and report["family"] is None
    assert a == b
    assert _red_pixels_in_top_band(a) > 200
    assert "fonts-noto-cjk" in report["message"] and "no Japanese font found" in stderr


def test_a_system_noto_sans_cjk_is_preferred(monkeypatch):
    from matplotlib import font_manager

    picked = {}

    def findfont(prop, fallback_to_default=True):
        picked.setdefault("first", prop.get_family()[0])
        if prop.get_family()[0] == "Noto Sans CJK JP":
            return "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
        raise ValueError("not installed")

    monkeypatch.setattr(font_manager.fontManager, "findfont", findfont)
    fonts.japanese_font.cache_clear()
    try:
        font = fonts.japanese_font()
        families = fonts.matplotlib_families()
    finally:
        fonts.japanese_font.cache_clear()
    assert picked["first"] == "Noto Sans CJK JP"
    assert (font.source, font.family) == ("system", "Noto Sans CJK JP")
    assert families == ["Noto Sans CJK JP", "DejaVu Sans"]


@pytest.mark.slow
def test_a_font_only_fontconfig_knows_is_found(tmp_path):
    # matplotlib's font list is a cache; a Japanese font installed later is known to fontconfig
    # (and so to the PDF) only. Here IPAexGothic sits in a folder that only fontconfig reads.
    require_tool("fc-list", "fontconfig", "asks fontconfig for a font matplotlib has not cached")
    folder = fonts.bundled_font_path().parent
    code = """
import json
from disaster_ai import fonts
fonts.bundled_font_path = lambda: None  # not the packaged one: a "system" font
font = fonts.japanese_font()
print(json.dumps([font.source, font.family, fonts.matplotlib_families()]))
"""
    result = run_without_system_fonts(code, tmp_path, font_dirs=[folder], timeout=120)
    assert result.returncode == 0, result.stderr
    source, family, families = json.loads(result.stdout.strip().splitlines()[-1])
    assert (source, family) == ("system", "IPAexGothic")
    assert families == ["IPAexGothic", "DejaVu Sans"]


@pytest.fixture
def no_japanese_font(monkeypatch):
    monkeypatch.setattr(fonts, "SYSTEM_FAMILIES", ("No Such Font JP",))
    monkeypatch.setattr(fonts, "bundled_font_path", lambda: None)
    fonts.japanese_font.cache_clear()
    yield
    fonts.japanese_font.cache_clear()


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_the_desk_and_the_command_line_say_when_no_japanese_font_exists(
    no_japanese_font, app, runner, client, login, yaizu, tmp_path
):
    login("operator")
    page = client.get("/").get_data(as_text=True)
    assert "日本語フォントが見つかりません" in page and "fonts-noto-cjk" in page
    health = client.get("/healthz").get_json()["checks"]["fonts"]
    assert health["ok"] is False and health["critical"] is False
    png = tmp_path / "map.png"
    result = runner.invoke(["situation", "--png", str(png)])
    assert result.exit_code == 0 and png.is_file()
    assert "日本語フォントが見つかりません" in result.output


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_with_a_japanese_font_the_desk_shows_no_font_warning(app, client, login):
    login("operator")
    assert "日本語フォントが見つかりません" not in client.get("/").get_data(as_text=True)
    assert client.get("/healthz").get_json()["checks"]["fonts"]["ok"] is True


def test_a_third_party_deprecation_does_not_fail_the_suite_but_ours_does():
    # pyproject's filterwarnings: WeasyPrint's own "HarfBuzz-Subset will be required" notice
    # (issued from weasyprint.text.ffi on a machine without libharfbuzz-subset0) is ignored ...
    warnings.warn_explicit(
        "HarfBuzz-Subset will be required by future versions of WeasyPrint.",
        DeprecationWarning,
        "ffi.py",
        528,
        module="weasyprint.text.ffi",
    )
    warnings.warn_explicit("a notice", UserWarning, "fonts.py", 70, module="weasyprint.text.fonts")
    # ... while a warning from our code is still an error
    for category in (DeprecationWarning, UserWarning):
        with pytest.raises(category):
            warnings.warn_explicit(
                "ours", category, "summary.py", 1, module="disaster_ai.apps.situation.summary"
            )
