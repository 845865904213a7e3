"""Confirmed incidents propose tally increments; the desk accepts (as is or edited) or rejects;
nothing changes silently and nothing is counted twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from report_helpers import T0, add_incident, audit_rows, cli_json

from disaster_ai.apps.reports import proposals
from disaster_ai.apps.reports.common import Conflict
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import Actor

OPERATOR = Actor(7, "operator", frozenset({"operator"}))
sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def tally_value(runner, event_id, path):
    items = {
        i["path"]: i
        for i in cli_json(runner, "reports", "tally", "--event", str(event_id))["items"]
    }
    return items[path]["value"], items[path]["state"]


def listed(app, event_id):
    proposals.sync(app, event_id)
    with app.app_context(), session_scope(get_storage(app)) as session:
        return proposals.list_proposals(session, event_id)


@sqlite_only
def test_confirmed_incidents_propose_and_the_desk_decides(app, runner, event):
    damaged = add_incident(
        app, category="building_damage", place_name="本町二丁目", description="屋根瓦が落下"
    )
    flooded = add_incident(app, category="inundation")
    rescue = add_incident(app, category="rescue", people=3)
    add_incident(app, category="building_damage", status="unverified")  # not confirmed yet
    add_incident(app, category="welfare_check")  # no rule: no proposal
    add_incident(app, category="fire", occurred_at=T0 - timedelta(days=2))  # long before the event
    rows = listed(app, event["id"])
    assert [(p["incident_id"], p["item"], p["amount"], p["state"]) for p in rows] == [
        (damaged, "住家被害.一部破損.棟", "1", "pending"),
        (flooded, "住家被害.床下浸水.棟", "1", "pending"),
        (rescue, "人的被害.負傷者.軽傷", "3", "pending"),  # its head count
    ]
    assert rows[0]["incident"]["place_name"] == "本町二丁目"
    assert tally_value(runner, event["id"], "住家被害.一部破損.棟") == (
        None,
        "unconfirmed",
    )  # nothing yet

    accepted = proposals.decide(app, rows[0]["id"], "accept", actor=OPERATOR)
    assert (accepted["state"], accepted["decided_item"], accepted["decided_amount"]) == (
        "accepted", "住家被害.一部破損.棟", "1",
    )  # fmt: skip
    # edited: the water was above the floor
    proposals.decide(
        app, rows[1]["id"], "accept", item="住家被害.床上浸水.棟", amount="2", actor=OPERATOR
    )
    proposals.decide(app, rows[2]["id"], "reject", reason="負傷者なし（救助のみ）", actor=OPERATOR)
    assert tally_value(runner, event["id"], "住家被害.一部破損.棟") == ("1", "confirmed")
    assert tally_value(runner, event["id"], "住家被害.床上浸水.棟") == ("2", "confirmed")
    assert tally_value(runner, event["id"], "住家被害.床下浸水.棟") == (None, "unconfirmed")
    assert tally_value(runner, event["id"], "人的被害.負傷者.軽傷") == (None, "unconfirmed")
    history = cli_json(
        runner, "reports", "history", "--event", str(event["id"]), "--item", "住家被害.床上浸水.棟"
    )
    assert history[0]["source"] == "incidents" and history[0]["incident_ids"] == [flooded]
    assert history[0]["source_note"] == f"事案 #{flooded}"

    # a second decision on the same proposal is refused; the tally keeps its single count
    with pytest.raises(Conflict):
        proposals.decide(app, rows[0]["id"], "accept", actor=OPERATOR)
    # syncing again proposes nothing new for the same incidents
    assert len(listed(app, event["id"])) == 3
    assert tally_value(runner, event["id"], "住家被害.一部破損.棟") == ("1", "confirmed")
    actions = [(r.action, r.detail.get("edited")) for r in audit_rows(app, "reports.proposal_")]
    assert actions == [
        ("reports.proposal_accept", False),
        ("reports.proposal_accept", True),
        ("reports.proposal_reject", False),
    ]


@sqlite_only
def test_an_accepted_figure_adds_to_what_was_typed(app, runner, event):
    cli_json(runner, "reports", "tally", "--event", str(event["id"]), "--set", "火災発生.建物=2")
    add_incident(app, category="fire")
    (proposal,) = listed(app, event["id"])
    proposals.decide(app, proposal["id"], "accept", actor=OPERATOR)
    assert tally_value(runner, event["id"], "火災発生.建物") == ("3", "confirmed")


@sqlite_only
def test_merged_duplicates_are_never_counted_twice(app, event):
    from disaster_ai.apps.situation import incidents as situation

    first = add_incident(app, category="landslide")
    second = add_incident(app, category="landslide")
    rows = listed(app, event["id"])
    assert len(rows) == 2
    # the first was counted; then it turns out to be the slope the second reported
    proposals.decide(app, rows[0]["id"], "accept", actor=OPERATOR)
    with app.app_context(), session_scope(get_storage(app)) as session:
        situation.merge_incident(session, first, second, OPERATOR)
    rows = {p["incident_id"]: p for p in listed(app, event["id"])}
    assert rows[first]["state"] == "accepted"
    assert rows[second]["state"] == "withdrawn"  # its duplicate is counted already
    assert f"#{first}" in rows[second]["reason"]
    # a later report of the same slope, merged into the kept incident, proposes nothing
    third = add_incident(app, category="landslide")
    with app.app_context(), session_scope(get_storage(app)) as session:
        situation.merge_incident(session, third, second, OPERATOR)
    assert third not in {p["incident_id"] for p in listed(app, event["id"])}
    with app.app_context(), session_scope(get_storage(app)) as session:
        from disaster_ai.apps.reports import tally
        from disaster_ai.apps.reports.items import catalogue_for

        counted = tally.history(session, event["id"], "その他.崖くずれ", catalogue_for(app))
    assert [h["value"] for h in counted] == ["1"]

    # a pending proposal whose incident is merged away is withdrawn
    fourth = add_incident(app, category="fire")
    fifth = add_incident(app, category="fire")
    listed(app, event["id"])
    with app.app_context(), session_scope(get_storage(app)) as session:
        situation.merge_incident(session, fourth, fifth, OPERATOR)
    rows = {p["incident_id"]: p for p in listed(app, event["id"])}
    assert rows[fourth]["state"] == "withdrawn" and f"#{fifth}" in rows[fourth]["reason"]
    assert rows[fifth]["state"] == "pending"


def test_two_operators_accepting_at_once_count_it_once(app, runner, event):
    """SQLite and PostgreSQL: the conditional update lets exactly one decision through."""
    add_incident(app, category="building_damage")
    (proposal,) = listed(app, event["id"])
    outcomes = []

    def accept():
        try:
            proposals.decide(app, proposal["id"], "accept", actor=OPERATOR)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=accept) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
    assert tally_value(runner, event["id"], "住家被害.一部破損.棟") == ("1", "confirmed")


@sqlite_only
def test_cli_lists_and_decides_proposals(app, runner, event):
    incident = add_incident(app, category="road_flooding")
    (row,) = cli_json(runner, "reports", "proposals", "--event", str(event["id"]))
    assert (row["incident_id"], row["item"]) == (incident, "その他.道路")
    decided = cli_json(runner, "reports", "decide", str(row["id"]), "--accept", "--amount", "2")
    assert (decided["state"], decided["decided_amount"]) == ("accepted", "2")
    refused = runner.invoke(["reports", "decide", str(row["id"]), "--reject"])
    assert refused.exit_code == 1
    bad = runner.invoke(["reports", "decide", "999", "--accept"])
    assert bad.exit_code == 1 and "999" in bad.output
    bad = runner.invoke(["reports", "decide", str(row["id"])])
    assert bad.exit_code == 2
