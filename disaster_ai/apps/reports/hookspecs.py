"""Hooks of the damage-reports app (第4号様式), registered when the app loads.

The app adds these specifications to the plugin manager from its ``dai_add_hookspecs``; while
the app is disabled they do not exist. docs/plugins.md documents each one.
"""

from disaster_ai import hookspec


@hookspec
def dai_report_items():
    """Return a list of :class:`disaster_ai.apps.reports.items.ReportItem` (or dicts with its
    keys: ``path``, ``unit``, ``kind``, ``forms``, ``sum``, ``label``, ``note``): items your
    prefecture adds to the damage report (第4号様式), e.g. ``{"path": "その他.停電地区",
    "unit": "地区"}``. An item whose path already exists replaces that item's definition; a new
    one goes after the last item of its group. Read once when the app starts; a wrong item
    disables the reports app with the reason on the admin plugins page."""
