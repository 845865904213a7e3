"""Test plugin, startup family: validates its settings in dai_startup.

PLUGINS = {"startup_config": {"station": "焼津港", "threshold_cm": 150}}"""

from disaster_ai import hookimpl


@hookimpl
def dai_startup(app):
    settings = app.config["PLUGINS"].get("startup_config", {})
    if not isinstance(settings.get("station", ""), str):
        raise TypeError("PLUGINS['startup_config']['station'] must be a string, e.g. '焼津港'")
    threshold = settings.get("threshold_cm", 150)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold <= 0:
        raise ValueError(
            f"PLUGINS['startup_config']['threshold_cm'] must be a positive integer, got {threshold!r}"
        )
