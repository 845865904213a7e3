"""A typhoon night under load, on this machine, for both production topologies in one run.

    .venv/bin/pip install -e '.[load]'        # Locust (once)
    .venv/bin/python benchmarks/load_night.py [--minutes 5] [--topologies sqlite,postgresql]

For each topology it builds a throw-away instance with the sample kit, starts the processes the
way docs/deploy.md runs them (web, worker, scheduler: separate processes; the worker at a lower
CPU priority) and drives a scripted night with Locust against loopback only:

- 30 desk users, each polling the dashboard feed, the map's live layers and the notifications
  every 5 s, and loading the dashboard and map pages once a minute (with If-None-Match, like a
  browser);
- 5 operators drafting and submitting evacuation notices (one every ~60 s each);
- 2 approvers approving what was submitted (every ~20 s each), and issuing one now and then;
- 60 call uploads an hour (one a minute, the first at once), each transcribed by the worker, and
  a burst of 10 calls in one upload a minute into the steady night (``--burst``), so that the
  desk is measured while the worker is busy for a while;
- a bulletin schedule (every 15 minutes by default; ``--bulletin-minutes``);
- the JMA feed poller against a local feed of the official sample telegrams.

Afterwards it waits for the job queue to drain and prints, per endpoint, p50/p95/p99 latency and
the error rate (5xx, connection errors or an unexpected status; a 409 between the two approvers is
counted as a conflict, not an error), the desk pages' p95 while a call was being transcribed, the
transcription queue wait, and whether every upload was stored and transcribed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DESK_USERS, OPERATORS, APPROVERS = 30, 5, 2
DESK_ENDPOINTS = (
    "GET /",
    "GET /dashboard/feed.json",
    "GET /apps/situation",
    "GET /apps/situation/map-data.json?part=first",
    "GET /apps/situation/map-data.json?layers=incidents,shelters",
    "GET /notifications.json",
)


# --- the Locust driver (a child process: gevent patches only it) ------------------------------


def drive(spec_path: str, out_path: str) -> None:
    from gevent import monkey

    monkey.patch_all()
    import random

    import gevent
    from loadkit import unique_clip
    from locust import HttpUser, constant, events, task
    from locust.env import Environment

    from disaster_ai.testing import csrf_token_from

    spec = json.loads(Path(spec_path).read_text())
    records: list[tuple] = []
    t0 = time.time()

    def record(
        request_type, name, response_time, response_length, exception=None, context=None, **kw
    ):
        start = kw.get("start_time") or (time.time() - response_time / 1000)
        status = getattr(kw.get("response"), "status_code", 0)
        kind = (context or {}).get("outcome", "ok" if exception is None else "error")
        records.append(
            (
                start,
                f"{request_type} {name}",
                response_time,
                status,
                kind,
                str(exception or "")[:200],
            )
        )

    events.request.add_listener(record)

    def check(response, expected=(200,), conflict=()):
        if response.status_code in expected:
            response.success()
        elif response.status_code in conflict:
            response.request_meta["context"]["outcome"] = "conflict"
            response.success()
        else:
            response.failure(f"{response.status_code}: {response.text[:160]}")

    class Desk(HttpUser):
        fixed_count = spec["desk_users"]
        wait_time = constant(5)
        host = spec["url"]

        def on_start(self):
            self.name_ = spec["desk_names"].pop()
            self.etags: dict[str, str] = {}
            self.after = None
            self.rounds = 0
            page = self.client.get("/login", name="/login")
            token = csrf_token_from(page.text)
            self.client.post(
                "/login",
                data={
                    "csrf_token": token,
                    "username": self.name_,
                    "password": spec["passwords"][self.name_],
                },
                name="/login",
            )

        def _get(self, path, name=None):
            headers = {"If-None-Match": self.etags[path]} if path in self.etags else {}
            with self.client.get(
                path, headers=headers, name=name or path, catch_response=True
            ) as r:
                check(r, (200, 304))
                if r.headers.get("ETag"):
                    self.etags[path] = r.headers["ETag"]
                return r

        @task
        def poll(self):
            if self.rounds % 12 == 0:  # a page load once a minute
                self._get("/", "/")
                self._get("/apps/situation")
                self._get("/apps/situation/map-data.json?part=first")
            self.rounds += 1
            self._get("/dashboard/feed.json")
            self._get("/apps/situation/map-data.json?layers=incidents,shelters")
            answer = self._get(
                "/notifications.json" + (f"?after={self.after}" if self.after else ""),
                "/notifications.json",
            )
            if answer.status_code == 200:
                try:
                    self.after = answer.json().get("latest") or self.after
                except ValueError:
                    pass

    class Operator(HttpUser):
        fixed_count = spec["operators"]
        wait_time = constant(60)
        host = spec["url"]

        def on_start(self):
            self.user = spec["operator_names"].pop()
            self.client.headers["Authorization"] = f"Bearer {spec['tokens'][self.user]}"
            gevent.sleep(random.uniform(0, 30))

        @task
        def draft_and_submit(self):
            districts = random.sample(spec["districts"], k=min(2, len(spec["districts"])))
            body = {
                "hazard": random.choice(["inland_flood", "landslide", "storm_surge"]),
                "action": "発令",
                "level": random.choice([3, 4]),
                "districts": districts,
                "reason": "大雨により、災害が発生するおそれが高まっています。",
                "exercise": True,
            }
            with self.client.post(
                "/api/v1/notices/drafts",
                json=body,
                name="/api/v1/notices/drafts",
                catch_response=True,
            ) as r:
                check(r, (200,))
            with self.client.post(
                "/api/v1/notices", json=body, name="/api/v1/notices", catch_response=True
            ) as r:
                check(r, (201,))
                if r.status_code != 201:
                    return
                notice = r.json()["id"]
            with self.client.post(
                f"/api/v1/notices/{notice}/submit",
                name="/api/v1/notices/{id}/submit",
                catch_response=True,
            ) as r:
                check(r, (200,))

    class Approver(HttpUser):
        fixed_count = spec["approvers"]
        wait_time = constant(20)
        host = spec["url"]

        def on_start(self):
            self.user = spec["approver_names"].pop()
            self.client.headers["Authorization"] = f"Bearer {spec['tokens'][self.user]}"

        @task
        def approve(self):
            with self.client.get(
                "/api/v1/notices?status=submitted",
                name="/api/v1/notices?status=submitted",
                catch_response=True,
            ) as r:
                check(r)
                waiting = r.json().get("notices", []) if r.status_code == 200 else []
            for notice in waiting[:3]:
                with self.client.post(
                    f"/api/v1/notices/{notice['id']}/approve",
                    json={"confirm_unopened_reason": "職員が向かっており、発令と同時に開設する"},
                    name="/api/v1/notices/{id}/approve",
                    catch_response=True,
                ) as r:
                    # both approvers may reach the same notice: the second gets a 409
                    check(r, (200,), conflict=(409,))
                    if r.status_code == 200 and random.random() < 0.2:
                        with self.client.post(
                            f"/api/v1/notices/{notice['id']}/issue",
                            name="/api/v1/notices/{id}/issue",
                            catch_response=True,
                        ) as issued:
                            check(issued, (200,), conflict=(409,))

    class Caller(HttpUser):
        """The call-taker's upload: 60 an hour."""

        fixed_count = 1
        wait_time = constant(spec["call_every_s"])
        host = spec["url"]

        def on_start(self):
            self.client.headers["Authorization"] = f"Bearer {spec['tokens']['op1']}"
            self.seed = 0

        @task
        def upload(self):
            self.seed += 1
            name, data = unique_clip(spec["seed"] * 1000 + self.seed)
            with self.client.post(
                "/api/v1/calls", files={"files": (name, data, "audio/wav")},
                name="/api/v1/calls", catch_response=True,
            ) as r:  # fmt: skip
                check(r, (202,))
                if r.status_code == 202:
                    uploads.append(r.json()["calls"][0]["id"])

    class Burst(HttpUser):
        """A burst of calls in one upload a minute into the steady night (a slope gave way):
        the desk pages are measured while the worker is busy for a while, not for seconds."""

        fixed_count = 1 if spec["burst"] else 0
        wait_time = constant(3600)
        host = spec["url"]

        def on_start(self):
            self.client.headers["Authorization"] = f"Bearer {spec['tokens']['op2']}"
            gevent.sleep(max(0, t0 + spec["ramp_s"] + 60 - time.time()))

        @task
        def upload(self):
            files = [
                ("files", (*unique_clip(spec["seed"] * 1000 + 500 + i), "audio/wav"))
                for i in range(spec["burst"])
            ]
            with self.client.post(
                "/api/v1/calls", files=files, name="/api/v1/calls (burst)", catch_response=True
            ) as r:
                check(r, (202,))
                if r.status_code == 202:
                    uploads.extend(c["id"] for c in r.json()["calls"])

    uploads: list[int] = []
    env = Environment(user_classes=[Desk, Operator, Approver, Caller, Burst], events=events)
    runner = env.create_local_runner()
    total = spec["desk_users"] + spec["operators"] + spec["approvers"] + 1 + bool(spec["burst"])
    # the shift starts: one user logs in a second (password hashing is slow on purpose)
    runner.start(total, spawn_rate=1)
    gevent.sleep(spec["ramp_s"] + spec["seconds"])
    runner.quit()
    Path(out_path).write_text(
        json.dumps(
            {
                "t0": t0,
                "t1": time.time(),
                "ramp_s": total + 10,
                "records": records,
                "uploads": uploads,
            }
        )
    )


# --- the orchestrator -------------------------------------------------------------------------


def run_topology(database: str, args, base: Path, models: Path) -> dict:
    from loadkit import FeedServer, Instance, drop_pg_database

    feed = FeedServer()
    inst = Instance(database, base / database, database, models, feed=feed)
    t = time.time()
    inst.create(OPERATORS, APPROVERS, DESK_USERS)
    inst.start()
    built = time.time() - t
    try:
        districts = inst.district_names()
        event = inst.api(
            "POST",
            "/api/v1/events",
            json={"name": "負荷試験の台風", "hazard": "inland_flood", "exercise": True},
        )
        event.raise_for_status()
        inst.api(
            "POST", f"/api/v1/events/{event.json()['id']}/schedules",
            # the first slot a minute after the load starts, then every --bulletin-minutes
            json={"kind": "interval", "interval_minutes": args.bulletin_minutes,
                  "start_at": (datetime.now(UTC) + timedelta(seconds=90)).isoformat(timespec="seconds")},
        ).raise_for_status()  # fmt: skip
        spec = {
            "url": inst.url,
            "seconds": int(args.minutes * 60),
            "desk_users": DESK_USERS,
            "operators": OPERATORS,
            "approvers": APPROVERS,
            "call_every_s": 3600 / args.calls_per_hour,
            "burst": args.burst,
            # one user logs in a second, then 10 s to settle
            "ramp_s": DESK_USERS + OPERATORS + APPROVERS + 1 + bool(args.burst) + 10,
            "seed": int(time.time()) % 100000,
            "districts": districts,
            "passwords": inst.passwords,
            "tokens": inst.tokens,
            "desk_names": [f"desk{i}" for i in range(1, DESK_USERS + 1)],
            "operator_names": [f"op{i}" for i in range(1, OPERATORS + 1)],
            "approver_names": [f"ap{i}" for i in range(1, APPROVERS + 1)],
        }
        spec_path, out_path = inst.folder / "spec.json", inst.folder / "raw.json"
        spec_path.write_text(json.dumps(spec, ensure_ascii=False))
        subprocess.run(
            [sys.executable, __file__, "--drive", str(spec_path), str(out_path)], check=True
        )
        raw = json.loads(out_path.read_text())
        drained, drain_s = wait_drained(inst, timeout=args.drain_timeout)
        result = summarise(inst, raw, drained, drain_s, feed)
        result["built_s"] = built
        return result
    finally:
        inst.stop()
        feed.close()
        if database == "postgresql":
            drop_pg_database(inst.db_url)


def wait_drained(inst, timeout: float) -> tuple[bool, float]:
    start = time.time()
    while time.time() - start < timeout:
        busy = [
            j
            for j in inst.jobs()
            if j["state"] in ("queued", "running") and j["kind"].startswith("transcription")
        ]
        if not busy:
            return True, time.time() - start
        time.sleep(2)
    return False, time.time() - start


def summarise(inst, raw: dict, drained: bool, drain_s: float, feed) -> dict:
    from loadkit import parse_time, percentile

    jobs = inst.jobs("transcription.transcribe")
    busy = [
        (parse_time(j["started_at"]), parse_time(j["finished_at"]) or raw["t1"])
        for j in jobs
        if j["started_at"]
    ]
    waits = [
        parse_time(j["started_at"]) - parse_time(j["created_at"]) for j in jobs if j["started_at"]
    ]
    runs = [
        parse_time(j["finished_at"]) - parse_time(j["started_at"])
        for j in jobs
        if j["finished_at"] and j["started_at"]
    ]
    calls = inst.api("GET", "/api/v1/calls").json()["calls"]
    stored = {c["id"] for c in calls}
    transcribed = {
        c["id"]
        for c in calls
        if c.get("status") in ("transcribed", "confirmed", "reviewed", "done")
    }
    # the table covers the steady night after the shift's logins (all 38 users in), logins aside
    steady_from = raw["t0"] + raw["ramp_s"]
    steady = [r for r in raw["records"] if r[0] >= steady_from or "/login" in r[1]]
    table = {}
    for _start, name, ms, _status, outcome, _msg in steady:
        row = table.setdefault(name, {"ms": [], "errors": 0, "conflicts": 0})
        row["ms"].append(ms)
        row["errors"] += outcome == "error"
        row["conflicts"] += outcome == "conflict"
    desk = [r for r in steady if r[1] in DESK_ENDPOINTS]
    during = [r[2] for r in desk if any(a <= r[0] <= b for a, b in busy)]
    bulletins = inst.api("GET", "/api/v1/events").json()
    return {
        "endpoints": {
            name: {
                "n": len(row["ms"]),
                "p50": percentile(row["ms"], 0.5),
                "p95": percentile(row["ms"], 0.95),
                "p99": percentile(row["ms"], 0.99),
                "errors": row["errors"],
                "conflicts": row["conflicts"],
            }
            for name, row in sorted(table.items())
        },
        "errors": [r for r in raw["records"] if r[4] == "error"][:10],
        "desk_all_p95": percentile([r[2] for r in desk], 0.95),
        "desk_during_transcription": {
            "n": len(during),
            "p50": percentile(during, 0.5),
            "p95": percentile(during, 0.95),
            "p99": percentile(during, 0.99),
        },
        "uploads": {
            "accepted": len(raw["uploads"]),
            "stored": len(set(raw["uploads"]) & stored),
            "transcribed": len(set(raw["uploads"]) & transcribed),
        },
        "queue_wait_s": {"p50": percentile(waits, 0.5), "max": max(waits, default=float("nan"))},
        "transcribe_s": {"p50": percentile(runs, 0.5), "max": max(runs, default=float("nan"))},
        "drained": drained,
        "drain_s": drain_s,
        "bulletins": bulletins,
        "feed_hits": feed.hits,
        "seconds": raw["t1"] - steady_from,
        "ramp_s": raw["ramp_s"],
    }


def print_result(name: str, result: dict) -> None:
    print(
        f"\n## {name}  ({result['seconds']:.0f} s of steady load after a {result['ramp_s']} s ramp; instance built in {result['built_s']:.0f} s)"
    )
    print(
        f"{'endpoint':<58} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'409':>4}"
    )
    for endpoint, row in result["endpoints"].items():
        print(
            f"{endpoint[:58]:<58} {row['n']:>6} {row['p50']:>8.0f} {row['p95']:>8.0f} {row['p99']:>8.0f} "
            f"{row['errors'] / max(row['n'], 1):>6.1%} {row['conflicts']:>4}"
        )
    d = result["desk_during_transcription"]
    print(
        f"desk pages, all: p95 {result['desk_all_p95']:.0f} ms; while a call was transcribed: n={d['n']} p50 {d['p50']:.0f} / p95 {d['p95']:.0f} / p99 {d['p99']:.0f} ms (goal p95 ≤ 500 ms)"
    )
    u = result["uploads"]
    print(
        f"uploads: {u['accepted']} accepted, {u['stored']} stored, {u['transcribed']} transcribed; queue wait p50 {result['queue_wait_s']['p50']:.1f} s, max {result['queue_wait_s']['max']:.1f} s; transcription p50 {result['transcribe_s']['p50']:.1f} s"
    )
    print(
        f"queue drained: {result['drained']} ({result['drain_s']:.0f} s after the load); JMA feed requests: {result['feed_hits']}"
    )
    print(f"bulletin events: {json.dumps(result['bulletins'], ensure_ascii=False)[:400]}")
    if result["errors"]:
        print("first errors:", json.dumps(result["errors"], ensure_ascii=False)[:1500])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--topologies", default="sqlite,postgresql")
    parser.add_argument("--calls-per-hour", type=float, default=60)
    parser.add_argument("--bulletin-minutes", type=int, default=15)
    parser.add_argument(
        "--burst",
        type=int,
        default=10,
        help="calls uploaded together a minute in (0: none; at most 10)",
    )
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--json", dest="json_out", help="also write the results here")
    parser.add_argument("--drive", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        drive(*args.drive)
        return 0
    try:
        import locust  # noqa: F401
    except ImportError:
        print("Locust is missing: .venv/bin/pip install -e '.[load]'", file=sys.stderr)
        return 2
    from loadkit import assemble_models, cleanup

    base = Path(tempfile.mkdtemp(prefix="dai-load-"))
    results = {}
    try:
        models = assemble_models(base / "shared")
        for database in args.topologies.split(","):
            results[database] = run_topology(database, args, base, models)
            print_result(
                {
                    "sqlite": "SQLite + in-process worker",
                    "postgresql": "PostgreSQL + Celery on Redis",
                }[database],
                results[database],
            )
    finally:
        cleanup(base)
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(results, ensure_ascii=False, indent=1, default=str)
        )
    bad = [
        name for name, r in results.items()
        if any(row["errors"] for row in r["endpoints"].values())
        or r["uploads"]["stored"] != r["uploads"]["accepted"] or not r["drained"]
    ]  # fmt: skip
    print(
        "\ngoals: 0 errors, every upload stored and transcribed, queue drained:",
        "met" if not bad else f"NOT met on {', '.join(bad)}",
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
