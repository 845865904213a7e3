"""The tally: values or 未確認 with their source, who and when; every change a new version and
audited; derived totals; the CLI with Japanese item paths; refusals that name the item."""

from __future__ import annotations

import json
import threading

import pytest
from report_helpers import audit_rows, cli, cli_json

from disaster_ai.apps.reports import tally
from disaster_ai.apps.reports.common import Conflict, ReportError
from disaster_ai.types import Actor

OPERATOR = Actor(7, "operator", frozenset({"operator"}))


def items_of(data) -> dict:
    return {i["path"]: i for i in data["items"]}


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_cli_sets_values_and_unconfirmed_items_by_japanese_path(app, runner, event, clock):
    clock.advance(minutes=7)
    data = cli_json(
        runner, "reports", "tally", "--event", str(event["id"]),
        "--set", "住家被害.床上浸水.棟=12", "--set", "人的被害.死者=０",  # a full-width digit
        "--unconfirmed", "人的被害.行方不明者", "--source", "phone", "--note", "消防本部",
    )  # fmt: skip
    assert sorted(c["path"] for c in data["changed"]) == [
        "人的被害.死者",
        "人的被害.行方不明者",
        "住家被害.床上浸水.棟",
    ]
    items = items_of(data)
    flooded = items["住家被害.床上浸水.棟"]
    assert (flooded["value"], flooded["number"], flooded["state"], flooded["unit"]) == (
        "12", 12, "confirmed", "棟",
    )  # fmt: skip
    assert (flooded["source"], flooded["source_note"], flooded["entered_by"]) == (
        "phone", "消防本部", "cli",
    )  # fmt: skip
    assert flooded["entered_at"] == "2026-09-05T05:07:00+09:00"
    assert items["人的被害.死者"]["value"] == "0"
    missing = items["人的被害.行方不明者"]
    assert (missing["value"], missing["state"], missing["state_ja"]) == (
        None,
        "unconfirmed",
        "未確認",
    )
    assert items["住家被害.全壊.棟"]["entered"] is False  # never entered: 未確認 too
    assert data["summary"] == {"items": 66, "confirmed": 2, "unconfirmed": 1, "not_entered": 63}
    assert data["deadline"]["deadline"] == "2026-09-05T05:30:00+09:00"
    assert data["deadline"]["seconds_left"] == 23 * 60

    # the same values again: nothing written, nothing audited
    again = cli_json(
        runner, "reports", "tally", "--event", str(event["id"]), "--set", "住家被害.床上浸水.棟=12"
    )
    assert again["changed"] == [] and again["unchanged"] == ["住家被害.床上浸水.棟"]
    assert len(audit_rows(app, "reports.tally_set")) == 1


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_every_change_is_a_new_version_with_its_audit_row(app, runner, event, clock):
    event_id = str(event["id"])
    cli(runner, "reports", "tally", "--event", event_id, "--unconfirmed", "住家被害.床上浸水.棟")
    clock.advance(minutes=5)
    cli(
        runner,
        "reports",
        "tally",
        "--event",
        event_id,
        "--set",
        "住家被害.床上浸水.棟=8",
        "--unconfirmed",
        "住家被害.床上浸水.棟",
    )
    clock.advance(minutes=5)
    cli(
        runner,
        "reports",
        "tally",
        "--event",
        event_id,
        "--set",
        "住家被害.床上浸水.棟=12",
        "--source",
        "field_team",
    )
    history = cli_json(
        runner, "reports", "history", "--event", event_id, "--item", "住家被害.床上浸水.棟"
    )
    assert [(h["version"], h["value"], h["state"], h["source"]) for h in history] == [
        (3, "12", "confirmed", "field_team"),
        (2, "8", "unconfirmed", "desk"),  # a provisional figure, still 未確認
        (1, None, "unconfirmed", "desk"),
    ]
    assert [h["entered_at"][11:16] for h in history] == ["05:10", "05:05", "05:00"]
    rows = audit_rows(app, "reports.tally_set")
    assert len(rows) == 3
    assert rows[-1].detail["changes"] == [
        {
            "item": "住家被害.床上浸水.棟",
            "version": 3,
            "before": ["8", "unconfirmed"],
            "after": ["12", "confirmed"],
        }
    ]
    assert rows[-1].actor_name == "cli" and rows[-1].target == f"event:{event_id}"


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_derived_totals_are_confirmed_only_when_every_part_is(app, event):
    def set_(*changes):
        return tally.set_items(app, event["id"], list(changes), actor=OPERATOR)

    set_(tally.Change("住家被害.床上浸水.世帯", "10"), tally.Change("住家被害.半壊.世帯", "2"))
    from disaster_ai.apps.reports import service
    from disaster_ai.storage import get_storage, session_scope

    def derived():
        with app.app_context(), session_scope(get_storage(app)) as session:
            items = {i["path"]: i for i in service.live_tally(app, session, event["id"])}
        return items["り災世帯数"]

    total = derived()
    assert (total["value"], total["state"], total["partial"]) == ("12", "unconfirmed", True)
    assert total["sum"] == ["住家被害.全壊.世帯", "住家被害.半壊.世帯", "住家被害.床上浸水.世帯"]
    set_(tally.Change("住家被害.全壊.世帯", "0"))
    total = derived()
    assert (total["value"], total["state"], total["partial"]) == ("12", "confirmed", False)
    with pytest.raises(ReportError) as refused:
        set_(tally.Change("り災世帯数", "99"))  # computed, never typed
    assert refused.value.field == "り災世帯数"


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_bad_input_names_the_item_and_writes_nothing(app, runner, event):
    event_id = str(event["id"])
    cases = [
        (["--set", "住家被害.床上浸水.棟=1.5"], "住家被害.床上浸水.棟"),  # a count is whole
        (["--set", "田.冠水=1.234"], "田.冠水"),  # ha: two decimals at most
        (["--set", "人的被害.死者=-1"], "人的被害.死者"),
        (["--set", "人的被害.死者=たくさん"], "人的被害.死者"),
        (["--set", "住家被害.全焼.棟=1"], "住家被害.全焼.棟"),  # unknown item
        (["--set", "人的被害.死者"], "項目=値"),
        (["--set", "避難所.避難者数=10"], "避難所.避難者数"),  # filled from the shelters
    ]
    for args, named in cases:
        result = runner.invoke(
            ["reports", "tally", "--event", event_id, "--set", "人的被害.負傷者.軽傷=1", *args]
        )
        assert result.exit_code != 0, args
        assert named in result.output, (args, result.output)
    assert audit_rows(app, "reports.tally_set") == []  # all or nothing
    result = runner.invoke(["reports", "tally", "--event", "999", "--set", "人的被害.死者=0"])
    assert result.exit_code == 1 and "999" in result.output


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_a_closed_event_takes_no_more_figures(app, event):
    from disaster_ai.apps.bulletins import service

    service.close_event(app, event["id"])
    with pytest.raises(Conflict):
        tally.set_items(app, event["id"], [tally.Change("人的被害.死者", "0")], actor=OPERATOR)


def test_concurrent_writers_of_one_item_each_get_their_own_version(app, event):
    """Eight threads set the same item at once (SQLite and PostgreSQL): eight versions 1..8,
    none lost, none overwritten."""
    errors = []

    def write(n):
        try:
            tally.set_items(
                app, event["id"], [tally.Change("住家被害.床下浸水.棟", str(n))], actor=OPERATOR
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    from disaster_ai.apps.reports.items import catalogue_for
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        rows = tally.history(session, event["id"], "住家被害.床下浸水.棟", catalogue_for(app))
    assert sorted(r["version"] for r in rows) == list(range(1, 9))
    assert sorted(int(r["value"]) for r in rows) == list(range(1, 9))


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_items_command_lists_the_form_with_units_and_sums(runner):
    items = {i["path"]: i for i in json.loads(cli(runner, "reports", "items", "--json"))}
    assert items["住家被害.床上浸水.棟"]["unit"] == "棟"
    assert items["田.冠水"]["kind"] == "decimal" and items["田.冠水"]["unit"] == "ha"
    assert items["り災者数"]["sum"] == [
        "住家被害.全壊.人",
        "住家被害.半壊.人",
        "住家被害.床上浸水.人",
    ]
    assert items["避難所.避難者数"]["auto"] == "shelters.people"
    for path in (
        "ライフライン.水道",
        "ライフライン.電話",
        "ライフライン.電気",
        "ライフライン.ガス",
        "火災発生.建物",
        "火災発生.危険物",
        "その他.被害船舶",
        "その他.ブロック塀等",
        "応急対策.災害救助法の適用",
        "応急対策.消防団員出動延人数",
        "非住家.公共建物",
    ):
        assert path in items, path
