"""`disaster-ai bulletins …`: events, issue to a file in every format, list, export, tick."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def run(runner, *args):
    result = runner.invoke(list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_events_issue_list_export(app, runner, clock, tmp_path):
    opened = json.loads(run(runner, "bulletins", "events", "open", "令和8年台風第10号", "--json"))
    assert opened["name"] == "令和8年台風第10号" and opened["open"]
    assert "令和8年台風第10号" in run(runner, "bulletins", "events")

    out = tmp_path / "第1報.pdf"
    issued = json.loads(
        run(
            runner,
            "bulletins",
            "issue",
            "--event",
            str(opened["id"]),
            "--format",
            "pdf",
            "--out",
            str(out),
            "--remark",
            "CLIから発表",
            "--json",
        )
    )
    assert issued["number"] == 1 and out.read_bytes().startswith(b"%PDF")
    for fmt, start in (("html", b"<!doctype html>"), ("json", b"{"), ("text", "令和8年".encode())):
        target = tmp_path / f"b2.{fmt}"
        run(
            runner,
            "bulletins",
            "issue",
            "--event",
            str(opened["id"]),
            "--format",
            fmt,
            "--out",
            str(target),
        )
        assert target.read_bytes().startswith(start)
    text = (tmp_path / "b2.text").read_text(encoding="utf-8")
    assert text.startswith("令和8年台風第10号に係る被害状況等について（第4報）")

    listed = json.loads(run(runner, "bulletins", "list", "--event", str(opened["id"]), "--json"))
    assert [b["number"] for b in listed] == [4, 3, 2, 1]
    assert listed[-1]["remark"] == "CLIから発表" and listed[-1]["created_by"] == "cli"
    assert json.loads(run(runner, "bulletins", "list", "--json")) == listed
    events = json.loads(run(runner, "bulletins", "events", "--json"))
    assert events[0]["bulletins"] == 4

    exported = tmp_path / "again.json"
    run(
        runner,
        "bulletins",
        "export",
        str(listed[-1]["id"]),
        "--format",
        "json",
        "--out",
        str(exported),
    )
    assert json.loads(exported.read_text(encoding="utf-8"))["bulletin"]["remark"] == "CLIから発表"

    closed = json.loads(run(runner, "bulletins", "events", "close", str(opened["id"]), "--json"))
    assert closed["open"] is False
    refused = runner.invoke(["bulletins", "issue", "--event", str(opened["id"]), "--out", str(out)])
    assert refused.exit_code != 0 and "closed" in refused.output
    missing = runner.invoke(["bulletins", "list", "--event", "99"])
    assert missing.exit_code != 0 and "no disaster event 99" in missing.output


def test_tick_command_uses_the_given_time(app, runner, clock):
    event = json.loads(run(runner, "bulletins", "events", "open", "令和8年台風第10号", "--json"))
    from disaster_ai.apps.bulletins import service

    service.add_schedule(app, event["id"], kind="interval", interval_minutes=60)
    report = json.loads(
        run(runner, "bulletins", "tick", "--now", "2026-09-05T06:00:30+09:00", "--json")
    )
    assert [(r["status"], r["trigger"], r["number"]) for r in report] == [
        ("issued", "scheduled", 1)
    ]
    naive = runner.invoke(["bulletins", "tick", "--now", "2026-09-05T06:00:30"])
    assert naive.exit_code != 0 and "offset" in naive.output
