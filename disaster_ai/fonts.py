"""The Japanese font of the static map (matplotlib) and of the bulletin PDF (WeasyPrint).

The choice, made once per process (``japanese_font()``):

1. a system Japanese font, Noto Sans CJK JP first (Debian's fonts-noto-cjk), when installed;
2. else IPAexGothic, shipped by the ``matplotlib-fontja`` package from PyPI, which the desk
   installs as a dependency: Japanese renders on a machine without any system font;
3. else none. Japanese would then show as boxes, and the desk says so where a person looks:
   a line on the map and in the PDF, a banner on the desk pages, a warning on the command line
   and the ``fonts`` check of ``/healthz`` (``missing_message()``).

Licences: IPAexGothic is under the IPA Font License Agreement v1.0 (see NOTICE and
docs/install.md); Noto Sans CJK under the SIL Open Font License 1.1.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Japanese families a system may have, best first (family names as fontconfig reports them).
SYSTEM_FAMILIES = ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "TakaoGothic")
BUNDLED_PACKAGE = "matplotlib_fontja"  # pip: matplotlib-fontja
BUNDLED_FILE = ("fonts", "ipaexg.ttf")
BUNDLED_FAMILY = "IPAexGothic"
# The CSS family that the bulletin template lists after the system ones; render_pdf binds it to
# the packaged font file with @font-face (the HTML itself never carries a server path). A system
# IPAexGothic (Debian fonts-ipaexfont) answers to the same name.
CSS_FAMILY = BUNDLED_FAMILY
FALLBACK_FAMILY = "DejaVu Sans"  # matplotlib's own font: Latin only
# Drawn on the map and printed in the PDF when no Japanese font exists: ASCII, the only text
# that can render then.
MISSING_NOTE = (
    "No Japanese font: Japanese text shows as boxes. "
    "Install fonts-noto-cjk (apt) or matplotlib-fontja (pip)."
)


@dataclass(frozen=True)
class JapaneseFont:
    family: str | None  # None: no Japanese font at all
    path: str | None
    source: str  # "system" | "bundled" | "missing"

    @property
    def missing(self) -> bool:
        return self.source == "missing"


def bundled_font_path() -> Path | None:
    """IPAexGothic from the matplotlib-fontja package, located without importing it (its import
    changes matplotlib's global settings)."""
    try:
        spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder).joinpath(*BUNDLED_FILE)
        if path.is_file():
            return path
    return None


def _fontconfig_file(family: str) -> str | None:
    """The file fontconfig (what Pango and so WeasyPrint use) has for ``family``, if any."""
    import shutil
    import subprocess

    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run(
            [fc_list, f"{family}:style=Regular", "file"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.strip().rstrip(":") for line in out.splitlines() if line.strip())
    return files[0] if files else None


def _system_font() -> tuple[str, str] | None:
    from matplotlib import font_manager
    from matplotlib.font_manager import FontProperties

    bundled = bundled_font_path()
    for family in SYSTEM_FAMILIES:
        try:
            path = font_manager.fontManager.findfont(
                FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            # matplotlib's font list is a cache built once: a font installed after it (e.g.
            # fonts-noto-cjk on an existing machine) is known to fontconfig only
            path = _fontconfig_file(family)
            if path is None:
                continue
            try:
                font_manager.fontManager.addfont(path)
                font_manager.fontManager.findfont(
                    FontProperties(family=family), fallback_to_default=False
                )
            except (OSError, RuntimeError, ValueError):
                continue
        if bundled is None or Path(path).resolve() != bundled.resolve():
            return family, path
    return None


@functools.cache
def japanese_font() -> JapaneseFont:
    """The font the map and the PDF use (cached; ``japanese_font.cache_clear()`` re-checks)."""
    found = _system_font()
    if found:
        return JapaneseFont(found[0], found[1], "system")
    bundled = bundled_font_path()
    if bundled is not None:
        return JapaneseFont(BUNDLED_FAMILY, str(bundled), "bundled")
    log.warning("no Japanese font found: %s", MISSING_NOTE)
    return JapaneseFont(None, None, "missing")


_registered: set[tuple[int, str]] = set()
_register_lock = threading.Lock()


def matplotlib_families() -> list[str]:
    """``font.sans-serif`` for the map: the Japanese family (the packaged file registered with
    matplotlib's font manager when it is the one used), then matplotlib's DejaVu Sans."""
    font = japanese_font()
    if font.source == "bundled":
        from matplotlib import font_manager

        key = (id(font_manager.fontManager), font.path)
        with _register_lock:
            if key not in _registered:
                font_manager.fontManager.addfont(font.path)
                _registered.add(key)
    return [font.family, FALLBACK_FAMILY] if font.family else [FALLBACK_FAMILY]


def weasyprint_css() -> str:
    """A stylesheet for WeasyPrint: @font-face binding ``CSS_FAMILY`` to the packaged font (the
    system families come first in the document's own font-family list), or, when there is no
    Japanese font at all, a visible note at the top of the first page."""
    rules = []
    bundled = bundled_font_path()
    if bundled is not None:
        rules.append(
            f'@font-face {{ font-family: "{CSS_FAMILY}"; src: url("{bundled.as_uri()}"); }}'
        )
    if japanese_font().missing:
        # Pango crashes with no font at all (a machine without any font): matplotlib's own
        # DejaVu Sans, always installed with the desk, keeps at least the Latin note readable.
        import matplotlib

        latin = Path(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
        if latin.is_file():
            rules.append(
                f'@font-face {{ font-family: "{FALLBACK_FAMILY}"; src: url("{latin.as_uri()}"); }}'
            )
        rules.append(
            'body::before { content: "' + MISSING_NOTE + '"; display: block; color: #b00; '
            "border: 1.5pt solid #b00; padding: 2pt 4pt; margin-bottom: 6pt; font-weight: bold; }"
        )
    return "\n".join(rules)


def missing_message() -> str | None:
    """The sentence that tells a person Japanese will show as boxes, in the desk's language;
    None when a Japanese font exists."""
    if not japanese_font().missing:
        return None
    from flask_babel import gettext as _

    return _(
        "No Japanese font was found: Japanese text on maps and in PDFs shows as boxes. "
        "Install Debian's fonts-noto-cjk, or run `make setup` again to install the packaged "
        "IPAexGothic font (matplotlib-fontja)."
    )
