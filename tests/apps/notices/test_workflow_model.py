"""A model-based test of the notices workflow (hypothesis stateful testing).

Random sequences of 発令, level up or down (an update superseding the chain's head), partial
解除 and full 解除, over random districts, hazards and times, each drafted by one user and
approved and issued by another (the author's own approval must be refused), through the JSON
API. The clock is frozen (time-machine): a notice is drafted at T and issued at T + k minutes,
sometimes with an explicit later time of issue. The shelters a notice names are either opened
first (POST /api/v1/shelters/<key>/status) or, when approval is refused with 409
shelters_not_open, confirmed unopened with a reason; a notice naming unopened shelters must
never be issued without one of the two.

After every step the model (per chain: hazard, level, districts in force) must equal every
surface — the in-force API, the notices page's 「地区ごとの発令中の避難情報」, the dashboard map
and feed, the bulletins' ``dai_notices_in_force`` — and the edition just issued must say
exactly its districts (and, for a partial 解除, those that stay in force), the time of issue,
no legacy term, within the mail limits, with a 解除 headline for a 解除, and a CAP that
validates with the right msgType and references. The checks are in notice_workflow_model.py;
a failure lists every rule the step broke (kind and what was seen) and tells the night step by
step.

Each example runs on a copy of one database file loaded once with the Yaizu layers and users
(the layer import is what is slow), so examples never see each other's notices.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from hypothesis import HealthCheck, Phase, reject, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from notice_workflow_model import (
    DEFAULT_REASON,
    ISSUE,
    LIFT,
    Chain,
    Districts,
    Edition,
    Expected,
    Report,
    Violation,
    check_cap,
    check_entries,
    check_map,
    check_page,
    check_texts,
    parse_district_table,
)

from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import JST

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
HAZARDS = ("flood", "inland_flood", "landslide", "storm_surge", "tsunami")
LEVELS = (3, 4, 5)
AUTHORS = ("operator", "approver2")
APPROVERS = ("approver", "approver2")
DAY = datetime(2026, 7, 1, tzinfo=JST)
MAX_CHAINS = 3
MAX_DISTRICTS = 6  # enough for the mail and SNS to shorten to 「○○ほかN地区」
CONFIRM_REASON = "避難所は職員が向かっており、開設の見込みのため発令を優先する。"
# A survey (counting the kinds of violation rather than stopping at the first) sets this to an
# object with ``record(problems, log)``; the test itself leaves it None and fails.
SURVEY = None
# how one notice goes through the desk: minutes since the last step before drafting, the
# delay from drafting to approval and 発令, an explicit time of issue set after that (minutes),
# the author and the approver (never the same), and whether the shelters are opened first
STEPS = st.fixed_dictionaries(
    {
        "gap": st.integers(1, 240),
        "delay": st.builds(
            lambda m, s: timedelta(minutes=m, seconds=s),
            st.integers(0, 90),
            st.integers(0, 59),
        ),
        "explicit": st.none() | st.integers(1, 120),  # a time of issue set for later
        "author": st.sampled_from(AUTHORS),
        "approver": st.sampled_from(APPROVERS),
        "shelters": st.sampled_from(("open", "confirm")),
    }
)


@dataclass
class World:
    """The app, its client, the users' API headers, the districts, and the loaded database
    that each example starts from."""

    app: object
    client: object
    headers: dict[str, dict]
    districts: Districts
    database: Path
    template: Path

    def reset(self) -> None:
        """A fresh copy of the loaded database (the engine reconnects on its next use)."""
        get_storage(self.app).dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.database}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.template, self.database)


def snapshot(app, database: Path, template: Path) -> None:
    get_storage(app).dispose()
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    shutil.copyfile(database, template)


@pytest.fixture
def world(app, yaizu, users, approver2, token_for, tmp_path) -> World:
    from disaster_ai.apps.notices.reference import municipality, reference_layers

    with app.app_context(), session_scope(get_storage(app)) as session:
        districts = Districts.from_frame(reference_layers(session).districts, municipality(session))
    headers = {name: token_for(name) for name in ("operator", "approver", "approver2")}
    database = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    template = tmp_path / "loaded.sqlite3"
    snapshot(app, database, template)
    return World(app, app.test_client(), headers, districts, database, template)


class NoticeDesk(RuleBasedStateMachine):
    """The desk through one night: the machine is the operators, the model is what they know."""

    world: World  # set on the subclass made for each test

    def __init__(self):
        super().__init__()
        self.world.reset()
        self.chains: dict[int, Chain] = {}
        self.opened: set[str] = set()  # shelters opened through the API
        self.named: dict[str, set[int]] = {}  # district → issued editions that named it
        self.traveller = None
        self.clock = DAY
        self.log: list[str] = []  # the steps so far, as a desk officer would tell them

    # --- the clock and the API ---------------------------------------------------------------

    def move_clock(self, to: datetime) -> None:
        self.clock = to
        if self.traveller is None:
            self.traveller = time_machine.travel(to, tick=False)
            self.coordinates = self.traveller.start()
        else:
            self.coordinates.move_to(to)

    def teardown(self):
        if self.traveller is not None:
            self.traveller.stop()

    def call(self, method: str, url: str, user: str, json=None, expect=(200,)):
        client = self.world.client
        response = client.open(url, method=method, json=json, headers=self.world.headers[user])
        if response.status_code not in expect:
            body = response.get_json(silent=True) or response.get_data(as_text=True)[:300]
            error = body.get("error", {}) if isinstance(body, dict) else {}
            last = url.split("?")[0].rstrip("/").split("/")[-1]
            self.fatal(
                f"refused:{'save' if last in ('notices',) else last}"
                f":{error.get('code', response.status_code)}",
                f"{method} {url} as {user} → {response.status_code}: {body}",
            )
        return response

    def fatal(self, kind: str, message: str):
        """A step that cannot go on (a refused request): the sequence ends here."""
        if SURVEY is not None:
            SURVEY.record([(kind, message)], list(self.log))
            reject()
        raise Violation(kind, f"{message}\n{self.story()}")

    def settle(self, report: Report) -> None:
        violation = report.violation()
        if violation is None:
            return
        if SURVEY is not None:
            SURVEY.record(report.problems, list(self.log))
            return
        raise Violation(violation.kind, f"{violation.message}\n{self.story()}", violation.kinds)

    def story(self) -> str:
        return "The night so far:\n" + "\n".join(f"  {line}" for line in self.log)

    def told(self, what: str, steps: dict | None = None) -> None:
        if steps is not None:
            what += (
                f" by {steps['author']}, approved {steps['delay']} later"
                + (
                    f" (time of issue set {steps['explicit']} min after that)"
                    if steps["explicit"]
                    else ""
                )
                + f", shelters {steps['shelters']}"
            )
        self.log.append(f"{self.clock:%H:%M:%S} {what}")

    # --- the workflow ---------------------------------------------------------------------------

    def publish(self, scenario: dict, steps: dict, report: Report):
        """Draft (as the author, at T), submit, then at T + delay approve and issue as another
        user, opening the notice's shelters first or confirming them unopened with a reason.
        Returns the issued notice, the draft time and the time of issue the texts must say."""
        author = steps["author"]
        approver = (
            next(a for a in APPROVERS if a != author) if author in APPROVERS else steps["approver"]
        )
        drafted = self.clock
        if steps["explicit"] is not None:
            scenario["issued_at"] = (
                drafted + steps["delay"] + timedelta(minutes=steps["explicit"])
            ).isoformat()
        notice = self.call("POST", "/api/v1/notices", author, scenario, expect=(201,)).get_json()
        nid = notice["id"]
        self.call("POST", f"/api/v1/notices/{nid}/submit", author)
        self.move_clock(drafted + steps["delay"])
        if author in APPROVERS:  # the author can never approve, even as an approver
            own = self.call("POST", f"/api/v1/notices/{nid}/approve", author, {}, expect=(403,))
            if own.get_json()["error"]["code"] != "own_notice":
                report.add("own_notice", f"the author's approval: {own.get_json()}")
        closed = [s["key"] for s in notice.get("shelters") or [] if s["key"] not in self.opened]
        if steps["shelters"] == "open":
            for key in closed:
                self.call("POST", f"/api/v1/shelters/{key}/status", author, {"is_open": True})
                self.opened.add(key)
        blocked = False
        approved = self.call("POST", f"/api/v1/notices/{nid}/approve", approver, {}, (200, 409))
        if approved.status_code == 409:
            error = approved.get_json()["error"]
            if error["code"] != "shelters_not_open" or not closed or steps["shelters"] == "open":
                self.fatal(f"refused:approve:{error['code']}", str(error))
            blocked = True
            self.call(
                "POST",
                f"/api/v1/notices/{nid}/approve",
                approver,
                {"confirm_unopened_reason": CONFIRM_REASON},
            )
        issued = self.call("POST", f"/api/v1/notices/{nid}/issue", approver, expect=(200, 409))
        if issued.status_code == 409:
            error = issued.get_json()["error"]
            if error["code"] != "shelters_not_open" or not closed or blocked:
                self.fatal(f"refused:issue:{error['code']}", str(error))
            blocked = True
            for key in closed:
                self.call(
                    "POST",
                    f"/api/v1/shelters/{key}/status",
                    approver,
                    {"is_open": True},
                )
                self.opened.add(key)
            self.call("POST", f"/api/v1/notices/{nid}/issue", approver)
        if closed and steps["shelters"] != "open" and not blocked:
            report.add(
                "unopened_shelters",
                f"issued naming unopened shelters {closed} with neither a block nor a confirmation",
            )
        notice = self.call("GET", f"/api/v1/notices/{nid}", approver).get_json()
        if notice["status"] != "issued":
            self.fatal("not_issued", f"notice {nid} is {notice['status']} after 発令")
        issued_at = drafted + steps["delay"]
        if steps["explicit"] is not None:
            issued_at = datetime.fromisoformat(scenario["issued_at"])
        return notice, drafted, issued_at

    def check_edition(self, notice: dict, want: Expected, report: Report) -> Edition:
        """The texts and CAP of the edition just issued; returns its CAP identity."""
        world = self.world
        if [d["key"] for d in notice["districts"]] != list(want.affected):
            report.add("districts", f"notice names {notice['districts']}, not {want.affected}")
        check_texts(report, notice["texts"], want, world.districts)
        xml = self.call("GET", f"/api/v1/notices/{notice['id']}/cap.xml", "operator")
        text = xml.get_data(as_text=True)
        sent = check_cap(report, text, notice["identifier"], want, world.districts)
        for key in want.affected:
            self.named.setdefault(key, set()).add(notice["id"])
        return Edition(notice["id"], notice["identifier"], sent)

    def draft_gap(self, gap: int) -> None:
        self.move_clock(self.clock + timedelta(minutes=gap))

    def names(self, keys) -> str:
        return "、".join(self.world.districts.names[k] for k in keys)

    # --- rules ------------------------------------------------------------------------------------

    @initialize(start=st.integers(0, 24 * 60 - 1), second=st.integers(0, 59))
    def start_the_night(self, start, second):
        self.move_clock(DAY + timedelta(minutes=start, seconds=second))

    @rule(data=st.data())
    def desk_step(self, data):
        """One step of the night: 発令, a level change, a partial or a full 解除, whichever the
        state allows. (One rule drawing the action, rather than four rules with preconditions:
        hypothesis gives up a whole sequence when it draws a rule whose precondition fails.)"""
        actions = [name for name, possible in self.possible().items() if possible]
        action = data.draw(st.sampled_from(actions), label="action")
        getattr(self, action)(data, data.draw(STEPS, label="steps"))

    def possible(self) -> dict[str, bool]:
        return {
            "issue_new": len(self.chains) < MAX_CHAINS,
            "change_level": bool(self.chains),
            "lift_some": any(len(c.districts) >= 2 for c in self.chains.values()),
            "lift_all": bool(self.chains),
        }

    def issue_new(self, data, steps):
        """発令: a new chain over districts with nothing of this hazard in force."""
        hazard = data.draw(st.sampled_from(HAZARDS), label="hazard")
        level = data.draw(st.sampled_from(LEVELS), label="level")
        with_reason = data.draw(st.booleans(), label="with_reason")
        busy = {k for c in self.chains.values() if c.hazard == hazard for k in c.districts}
        free = sorted(k for k in self.world.districts.names if k not in busy)
        keys = data.draw(
            st.lists(st.sampled_from(free), min_size=1, max_size=MAX_DISTRICTS, unique=True),
            label="districts",
        )
        self.draft_gap(steps["gap"])
        self.told(f"発令 Lv{level} {hazard} {self.names(keys)}", steps)
        scenario = {
            "hazard": hazard,
            "action": ISSUE,
            "level": level,
            "districts": keys,
            "reason": DEFAULT_REASON[hazard] if with_reason else "",
        }
        report = Report()
        notice, drafted, issued_at = self.publish(scenario, steps, report)
        want = Expected(ISSUE, level, hazard, tuple(keys), (), issued_at, (), drafted, "Alert", ())
        edition = self.check_edition(notice, want, report)
        self.chains[notice["id"]] = Chain(
            hazard, level, list(keys), notice["id"], notice["id"], [edition]
        )
        self.settle(report)

    def pick_chain(self, data, at_least: int = 1) -> int:
        ids = sorted(i for i, c in self.chains.items() if len(c.districts) >= at_least)
        return data.draw(st.sampled_from(ids), label="chain")

    def change_level(self, data, steps):
        """Level up or down: an update (発令) of the chain's districts superseding its head."""
        chain = self.chains[self.pick_chain(data)]
        level = data.draw(
            st.sampled_from([lv for lv in LEVELS if lv != chain.level]), label="level"
        )
        self.draft_gap(steps["gap"])
        self.told(
            f"更新 Lv{chain.level}→Lv{level} {chain.hazard} {self.names(chain.districts)}",
            steps,
        )
        scenario = {
            "hazard": chain.hazard,
            "action": ISSUE,
            "level": level,
            "districts": list(chain.districts),
            "reason": DEFAULT_REASON[chain.hazard],
            "supersedes": chain.head,
        }
        report = Report()
        notice, drafted, issued_at = self.publish(scenario, steps, report)
        want = self.expected(chain, ISSUE, level, chain.districts, (), issued_at, drafted, "Update")
        chain.editions.append(self.check_edition(notice, want, report))
        chain.level, chain.base, chain.head = level, notice["id"], notice["id"]
        self.settle(report)

    def lift_some(self, data, steps):
        """A partial 解除: some districts of a chain; the others stay in force."""
        chain_id = self.pick_chain(data, at_least=2)
        chain = self.chains[chain_id]
        lifted = data.draw(
            st.lists(
                st.sampled_from(chain.districts),
                min_size=1,
                max_size=len(chain.districts) - 1,
                unique=True,
            ),
            label="lifted",
        )
        remaining = [k for k in chain.districts if k not in lifted]
        self.lift(chain_id, lifted, remaining, steps, "Update")

    def lift_all(self, data, steps):
        """The full 解除 of a chain: every district still in force; the chain ends (Cancel)."""
        chain_id = self.pick_chain(data)
        self.lift(chain_id, list(self.chains[chain_id].districts), [], steps, "Cancel")

    def lift(self, chain_id, lifted, remaining, steps, msg_type):
        chain = self.chains[chain_id]
        self.draft_gap(steps["gap"])
        self.told(
            f"{'部分' if remaining else '全'}解除 Lv{chain.level} {chain.hazard} {self.names(lifted)}"
            + (f" (継続: {self.names(remaining)})" if remaining else ""),
            steps,
        )
        scenario = {
            "hazard": chain.hazard,
            "action": LIFT,
            "level": chain.level,
            "districts": list(lifted),
            "reason": "",
            "supersedes": chain.head,
        }
        report = Report()
        notice, drafted, issued_at = self.publish(scenario, steps, report)
        want = self.expected(
            chain, LIFT, chain.level, lifted, remaining, issued_at, drafted, msg_type
        )
        chain.editions.append(self.check_edition(notice, want, report))
        chain.head = notice["id"]
        chain.districts = list(remaining)
        if not remaining:
            del self.chains[chain_id]
        self.settle(report)

    def expected(self, chain, action, level, affected, remaining, issued_at, drafted, msg_type):
        return Expected(
            action,
            level,
            chain.hazard,
            tuple(affected),
            tuple(remaining),
            issued_at,
            tuple(datetime.fromisoformat(e.sent) for e in chain.editions if e.sent),
            drafted,
            msg_type,
            tuple(chain.editions),
        )

    # --- every surface equals the model -------------------------------------------------------------

    @invariant()
    def surfaces_equal_the_model(self):
        if not self.log:
            return  # nothing drafted yet: every surface is empty (checked after the first step)
        world = self.world
        names = world.districts
        report = Report()
        api = self.call("GET", "/api/v1/notices/in-force", "operator").get_json()["items"]
        check_entries(report, "api", api, self.chains, names)
        with world.app.app_context():
            pm = world.app.extensions["disaster_ai"]
            hooked = [e for got in pm.hook.dai_notices_in_force(at=self.clock) for e in got or []]
        check_entries(report, "bulletins_hook", hooked, self.chains, names)
        feed = self.call("GET", "/dashboard/feed.json", "operator").get_json()["notices"]
        check_entries(report, "dashboard_feed", feed.get("items", []), self.chains, names, False)
        layers = self.call(
            "GET", "/apps/situation/map-data.json?layers=districts", "operator"
        ).get_json()["layers"]
        features = next(la for la in layers if la["id"] == "districts")["geojson"]["features"]
        check_map(report, features, self.chains, names)
        page = self.call("GET", "/apps/notices", "operator").get_data(as_text=True)
        rows = parse_district_table(page, names)
        if self.named and not rows:
            report.add("surface:page_in_force", "no 「地区ごとの発令中の避難情報」 table")
        check_page(report, rows, self.chains, self.named, names)
        self.settle(report)


def run(world: World, examples: int, steps: int, shrink: bool) -> None:
    machine = type("Desk", (NoticeDesk,), {"world": world})
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            derandomize=True,  # the same sequences on every run: a failure reproduces
            database=None,
            phases=phases,
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )


@sqlite_only
def test_workflow_model_short_sequences(world):
    """20 nights of up to 3 steps (the fast variant). It does not shrink a failure (a shrink takes
    minutes); the message tells the night step by step, and the slow variant shrinks."""
    run(world, examples=20, steps=4, shrink=False)


@sqlite_only
@pytest.mark.slow
def test_workflow_model_200_sequences(world):
    """200 nights of up to 3 steps (the issue's bound for CI: 発令, a level change or a partial
    解除, then the rest); a failure is shrunk to a minimal sequence."""
    run(world, examples=200, steps=4, shrink=True)
