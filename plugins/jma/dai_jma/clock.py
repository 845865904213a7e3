"""The plugin's clock: the desk's aware current time, which a test can set
(``set_clock(lambda: moment)``) to play a feed minute by minute."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from disaster_ai.desk import now as desk_now

_override: Callable[[], datetime] | None = None


def now() -> datetime:
    return _override() if _override is not None else desk_now()


def set_clock(function: Callable[[], datetime] | None) -> None:
    """Use ``function`` as the clock (None: the real one again)."""
    global _override
    _override = function
