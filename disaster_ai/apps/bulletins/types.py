"""Frozen payloads the bulletin hooks exchange (STYLE.md §2: hooks never see ORM rows).

They live here rather than in ``disaster_ai/types.py`` because only the bulletin hooks use them;
``disaster_ai.types`` may re-export them later without breaking plugins that import from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BulletinContext:
    """What ``dai_bulletin_sections`` gets while a bulletin's snapshot is taken.

    ``situation`` is the bulletin's own digest of the situation document (the same dict that is
    frozen into the bulletin); ``since`` is when the previous bulletin of the event was issued
    (the event's opening time for the first one). Times are ISO 8601 with ``+09:00``."""

    event_id: int
    event_name: str
    issued_at: str
    since: str | None
    hazard: str | None
    exercise: bool
    situation: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BulletinSection:
    """A section a plugin adds to a bulletin: a heading, a paragraph and/or bullet items.

    Everything is frozen into the bulletin's snapshot, so keep it to plain text."""

    title: str
    body: str = ""
    items: tuple[str, ...] = ()
    key: str = ""


@dataclass(frozen=True)
class DeliveryChannel:
    """Where a bulletin goes: ``kind`` is ``email`` or ``webhook`` for the core providers (a
    plugin may add others, e.g. ``lalert``); ``target`` is the address or URL; ``options`` the
    rest of the target's settings (for a webhook, an optional ``secret`` for the signature)."""

    kind: str
    target: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BulletinPayload:
    """A rendered bulletin, ready to send. Every format is built from the frozen snapshot."""

    id: int
    event_id: int
    event_name: str
    number: int
    issued_at: str
    title: str
    text: str
    html: str
    document: dict
    pdf: bytes | None = None
    pdf_filename: str = ""

    def json_bytes(self) -> bytes:
        import json

        return json.dumps(self.document, ensure_ascii=False, sort_keys=True, indent=2).encode()


@dataclass(frozen=True)
class DeliveryResult:
    """What a delivery provider reports. ``ok=False`` (or raising) counts as a failed attempt,
    which the job runner retries. ``host`` is where it went; ``external`` is True when that host
    is not this machine (the core audits both kinds)."""

    ok: bool
    detail: str = ""
    host: str = ""
    external: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
