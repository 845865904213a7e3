"""Frozen payloads the bulletin hooks exchange (STYLE.md §2: hooks never see ORM rows).

They live in ``disaster_ai.types`` so that other apps and plugins can build them without
importing this app; they are re-exported here for plugins that import them from here.
"""

from disaster_ai.types import (  # noqa: F401  re-exported
    BulletinContext,
    BulletinPayload,
    BulletinSection,
    DeliveryChannel,
    DeliveryResult,
)
