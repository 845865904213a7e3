"""disaster-ai: self-hosted AI tools for a municipality's disaster-response desk.

Plugins import the two pluggy markers from here::

    from disaster_ai import hookimpl
"""

from pluggy import HookimplMarker, HookspecMarker

__version__ = "0.1.0"

hookspec = HookspecMarker("disaster_ai")
hookimpl = HookimplMarker("disaster_ai")


def create_app(test_config=None, instance_path=None):
    """Build a configured Flask app (see disaster_ai.app.create_app)."""
    from disaster_ai.app import create_app as _create_app

    return _create_app(test_config, instance_path)


__all__ = ["create_app", "hookimpl", "hookspec", "__version__"]
