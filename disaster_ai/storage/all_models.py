"""Imports every module that defines tables, so Alembic and tests see the whole schema."""

import disaster_ai.storage.models  # noqa: F401
