"""Which modules define tables: the core's own, and each plugin's through ``dai_models``.

The core never imports an app's models itself. ``load_models(pm)`` imports what the loaded
plugins name, so ``Base.metadata`` holds every table of this configuration: the app factory
calls it, and so does the Alembic environment (for ``alembic revision --autogenerate`` and
the schema check in the tests). A blocked app's models are not imported.
"""

from __future__ import annotations

import importlib
from types import ModuleType

CORE_MODELS = ("disaster_ai.storage.models",)


def load_models(pm=None) -> list[str]:
    """Import the core's and every plugin's model modules; returns their names."""
    from disaster_ai.plugins import safe_collect

    if pm is None:
        from disaster_ai.plugins import make_plugin_manager

        pm = make_plugin_manager({"LOAD_ENTRY_POINTS": True})
    names = list(CORE_MODELS)
    for item in safe_collect(pm, "dai_models"):
        name = item.__name__ if isinstance(item, ModuleType) else str(item)
        if name not in names:
            names.append(name)
    for name in names:
        importlib.import_module(name)
    return names
