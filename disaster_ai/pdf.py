"""HTML → PDF with WeasyPrint and the desk's Japanese font (disaster_ai.fonts), for any app
that prints a document (the AI governance app's risk sheets and incident reports).

The same approach as the bulletin and report PDFs: the packaged font comes as a stylesheet of
its own bound to one FontConfiguration, so the HTML stays free of server paths; WeasyPrint's
INFO chatter and its font-subsetting warnings are kept out of the desk's logs.
"""

from __future__ import annotations

import logging


def _quiet_subsetting(record: logging.LogRecord) -> bool:
    """Drop WeasyPrint's per-PDF warning that fontTools subsets the fonts (no
    libharfbuzz-subset0: the PDF is right; docs/install.md names the optional package)."""
    return not str(record.msg).startswith("Using fontTools instead of HarfBuzz-Subset")


def html_to_pdf(html: str) -> bytes:
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    weasy_log = logging.getLogger("weasyprint")
    if _quiet_subsetting not in weasy_log.filters:
        weasy_log.addFilter(_quiet_subsetting)
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from disaster_ai import fonts

    font_config = FontConfiguration()
    extra = fonts.weasyprint_css()
    return HTML(string=html).write_pdf(
        stylesheets=[CSS(string=extra, font_config=font_config)] if extra else None,
        font_config=font_config,
    )
