"""Hooks of the bulletins app (被害状況 第N報), registered when the app loads.

The app adds these specifications to the plugin manager from its ``dai_add_hookspecs``; while
the app is disabled they do not exist. docs/plugins.md documents each one.
"""

from disaster_ai import hookspec


@hookspec
def dai_bulletin_sections(context):
    """Return a list of :class:`disaster_ai.apps.bulletins.types.BulletinSection` to add to a
    bulletin (被害状況 第N報) while its snapshot is taken. ``context`` is a
    :class:`~disaster_ai.apps.bulletins.types.BulletinContext` (event, issue time, the previous
    bulletin's time, the situation digest). The sections are frozen into the bulletin. A failing
    implementation is logged and audited, and the bulletin is issued without its sections."""


@hookspec
def dai_bulletin_situation(session, hazard, since, now, with_map):
    """The situation part of a bulletin: return ``(digest, png)``, the digest a JSON-ready dict
    with ``"available": True`` (see docs/bulletins.md for its fields) and the map as PNG bytes or
    None (``with_map`` False asks for none), or None when you have no situation to give. The
    situation app implements it. The first answer in the hook order is used; a failing
    implementation is logged and the next one asked; with no answer the bulletin is issued with
    its situation part ``{"available": False, "error": …}``."""


@hookspec(firstresult=True)
def dai_deliver_bulletin(bulletin, channel):
    """Deliver one bulletin (:class:`~disaster_ai.apps.bulletins.types.BulletinPayload`) to one
    channel (:class:`~disaster_ai.apps.bulletins.types.DeliveryChannel`); return a
    :class:`~disaster_ai.apps.bulletins.types.DeliveryResult`, or None when the channel's
    ``kind`` is not yours. Raise (or return ``ok=False``) on failure: the job is retried.

    firstresult: stops at the first non-None result. The core default (trylast) sends
    ``email`` through SMTP and POSTs ``webhook`` as JSON."""
