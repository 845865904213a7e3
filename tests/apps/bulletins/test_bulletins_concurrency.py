"""Two real scheduler processes evaluating the same slots at the same moment, on SQLite and on
PostgreSQL: the UNIQUE slot_key makes each slot one bulletin, and UNIQUE (event, number) plus the
retry keeps 第N報 numbers unique and gap-free."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import datetime

import pytest
from bulletin_helpers import JST, bulletin_rows

from disaster_ai.apps.bulletins import service
from disaster_ai.testing import process_env

DEADLINE = 60

TICKER = textwrap.dedent(
    """
    import json, sys, time
    from datetime import datetime
    from pathlib import Path

    from disaster_ai.app import create_app
    from disaster_ai.apps.bulletins.schedules import tick

    ready, go, now = Path(sys.argv[1]), Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
    app = create_app()               # configured from DISASTER_AI_* like `disaster-ai scheduler`
    with app.app_context():
        from disaster_ai.apps.situation import summary  # warm the imports before the barrier
    ready.write_text("ready")
    while not go.exists():
        time.sleep(0.002)
    print(json.dumps(tick(app, now)))
    """
)


@pytest.mark.slow
def test_two_scheduler_processes_never_duplicate_a_slot(app, clock, database_url, tmp_path):
    first = service.open_event(app, "令和8年台風第10号")
    second = service.open_event(app, "令和8年9月大雨")
    # two schedules of the same event fire at the same minute (they race for numbers too),
    # and one of another event; the scheduler was down from 05:00: each slot is a catch-up
    service.add_schedule(app, first["id"], kind="interval", interval_minutes=60)
    service.add_schedule(app, first["id"], kind="cron", cron="0 * * * *")
    service.add_schedule(app, second["id"], kind="cron", cron="0 */2 * * *")
    now = datetime(2026, 9, 5, 8, 0, 10, tzinfo=JST)

    script = tmp_path / "ticker.py"
    script.write_text(TICKER)
    env = process_env(database_url, tmp_path)
    go = tmp_path / "go"
    processes, readies = [], []
    for index in range(2):
        ready = tmp_path / f"ready-{index}"
        readies.append(ready)
        processes.append(
            subprocess.Popen(
                [sys.executable, str(script), str(ready), str(go), now.isoformat()],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + DEADLINE
        while not all(r.exists() for r in readies):
            for p in processes:
                assert p.poll() is None, p.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the tick processes did not start"
            time.sleep(0.01)
        go.write_text("go")  # both tick at the same moment
        outputs = [p.communicate(timeout=DEADLINE) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_out, err) in zip(processes, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    reports = [entry for out, _err in outputs for entry in json.loads(out.strip().splitlines()[-1])]

    rows = bulletin_rows(app)
    slots = Counter(b.slot_key for b in rows)
    assert len(rows) == 3 and set(slots.values()) == {1}
    assert {b.trigger for b in rows} == {"catch_up"}
    assert {b.slot_at.hour for b in rows} == {8}
    assert sorted(b.number for b in rows if b.event_id == first["id"]) == [1, 2]
    assert [b.number for b in rows if b.event_id == second["id"]] == [1]
    # each slot was issued by exactly one process; the other found it issued (or already evaluated)
    assert Counter(r["status"] for r in reports)["issued"] == 3
    assert {r["status"] for r in reports} <= {"issued", "exists", "idle"}
