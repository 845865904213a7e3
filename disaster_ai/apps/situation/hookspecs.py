"""Hooks of the situation app, registered when the app loads.

The app adds these specifications to the plugin manager from its ``dai_add_hookspecs``; while
the app is disabled they do not exist. docs/plugins.md documents each one.
"""

from disaster_ai import hookspec


@hookspec
def dai_incident_links(session, incident_id, actor):
    """Return a list of :class:`disaster_ai.types.Link` (label, href): the records of your
    plugin that this incident came from or is linked to (the call it was heard in, a feed's
    message). The incident's page lists them under 「関連」, in the hook order; a link the
    ``actor`` may not open should be left out. A failing implementation is skipped."""
