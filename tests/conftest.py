"""Fixtures come from disaster_ai.testing (the pytest11 plugin that plugin authors get too)."""
