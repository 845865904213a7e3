"""Fixtures for the reports tests: the desk's clock, an open event on the Yaizu sample, and a
job runner that runs queued jobs to the end."""

from __future__ import annotations

import pytest
from report_helpers import T0, Clock


@pytest.fixture
def clock(app):
    c = Clock(T0)
    app.extensions["disaster_ai.bulletins.clock"] = c
    return c


@pytest.fixture
def event(app, yaizu, clock):
    """「令和8年台風第10号」 opened (覚知) at T0 on the Yaizu sample."""
    from disaster_ai.apps.bulletins import service

    return service.open_event(app, "令和8年台風第10号", hazard="inland_flood")


@pytest.fixture
def jobs(app):
    from disaster_ai.jobs.service import runner_for

    def run(rounds: int = 20) -> int:
        total = 0
        for _ in range(rounds):
            ran = runner_for(app).run_pending()
            if not ran:
                break
            total += ran
        return total

    return run
