"""Imports every module that defines tables, so Alembic and tests see the whole schema."""

import disaster_ai.apps.bulletins.models  # noqa: F401
import disaster_ai.apps.notices.models  # noqa: F401
import disaster_ai.apps.reports.models  # noqa: F401
import disaster_ai.apps.situation.models  # noqa: F401
import disaster_ai.apps.transcription.models  # noqa: F401
import disaster_ai.storage.models  # noqa: F401
