"""Faults during a busy night, and what happened to each.

    .venv/bin/python benchmarks/load_faults.py          # as root (for the tmpfs), ~6 minutes

Builds a throw-away instance on PostgreSQL with Celery workers on Redis (the scaled-out
topology of docs/deploy.md, every process separate) and keeps 10 desk users polling and an
operator saving notices in the background. Then, one after another:

1. kills the worker (SIGKILL) in the middle of a transcription, and starts it again as systemd
   would: the call must be transcribed once, nothing lost;
2. restarts PostgreSQL: the desk must answer 503 ``database_unavailable`` (never a 500 or a
   traceback) and recover by itself; every notice that was answered 201 must exist afterwards;
3. kills the scheduler just after a bulletin slot came due, and starts it again: the slot is
   issued exactly once (no duplicate, none missing);
4. fills the disk of the upload folder (a small tmpfs mounted on ``<instance>/calls``): the
   upload is refused with 507 ``storage_full``, ``/healthz`` reports the disk, the calls
   stored before are intact, and uploads work again once space is freed.

It prints one verdict per fault and exits non-zero if any expectation failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadkit import (  # noqa: E402
    FeedServer,
    Instance,
    assemble_models,
    cleanup,
    drop_pg_database,
    login,
    unique_clip,
)

RESULTS: list[tuple[str, bool, str]] = []


def verdict(name: str, ok: bool, detail: str) -> None:
    RESULTS.append((name, ok, detail))
    print(f"[{'OK ' if ok else 'BAD'}] {name}: {detail}", flush=True)


class Background:
    """Desk users polling and an operator saving notices; every answer is kept."""

    def __init__(self, inst: Instance, districts: list[str], desk_users: int = 10):
        self.inst, self.districts = inst, districts
        self.answers: list[tuple[float, str, int, str]] = []  # (time, what, status, body head)
        self.created: list[int] = []
        self.stop_event = threading.Event()
        self.threads = [
            threading.Thread(target=self.desk, args=(f"desk{i}",), daemon=True)
            for i in range(1, desk_users + 1)
        ] + [threading.Thread(target=self.operator, daemon=True)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(30)

    def _keep(self, what: str, call) -> requests.Response | None:
        try:
            answer = call()
        except requests.RequestException as exc:
            self.answers.append((time.time(), what, 0, type(exc).__name__))
            return None
        self.answers.append((time.time(), what, answer.status_code, answer.text[:300]))
        return answer

    def desk(self, username: str):
        session = requests.Session()
        login(session, self.inst.url, username, self.inst.passwords[username])
        while not self.stop_event.wait(2):
            for path in (
                "/",
                "/dashboard/feed.json",
                "/apps/situation/map-data.json?layers=incidents",
            ):
                self._keep(path, lambda p=path: session.get(self.inst.url + p, timeout=30))

    def operator(self):
        headers = {"Authorization": f"Bearer {self.inst.tokens['op1']}"}
        body = {
            "hazard": "inland_flood", "action": "発令", "level": 3, "exercise": True,
            "districts": self.districts[:2], "reason": "大雨により、浸水のおそれがあります。",
        }  # fmt: skip
        while not self.stop_event.wait(3):
            answer = self._keep(
                "POST /api/v1/notices",
                lambda: requests.post(self.inst.url + "/api/v1/notices", json=body, headers=headers, timeout=30),
            )  # fmt: skip
            if answer is not None and answer.status_code == 201:
                self.created.append(answer.json()["id"])

    def window(self, start: float, end: float) -> list[tuple[float, str, int, str]]:
        return [a for a in self.answers if start <= a[0] <= end]


def upload(inst: Instance, seed: int) -> requests.Response:
    name, data = unique_clip(seed)
    return inst.api("POST", "/api/v1/calls", user="op1", files={"files": (name, data, "audio/wav")})


def wait_for(predicate, timeout: float, step: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def call(inst: Instance, call_id: int) -> dict:
    return inst.api("GET", f"/api/v1/calls/{call_id}").json()


# --- the faults ------------------------------------------------------------------------------


def kill_worker(inst: Instance) -> None:
    answer = upload(inst, 9001)
    call_id = answer.json()["calls"][0]["id"]
    running = wait_for(
        lambda: next((j for j in inst.jobs("transcription.transcribe") if j["state"] == "running"), None),
        120, 0.2,
    )  # fmt: skip
    if running is None:
        verdict("kill the worker mid-transcription", False, "the job never started")
        return
    time.sleep(1.0)  # inside the model
    inst.kill("worker")
    killed_at = time.time()
    state_after_kill = call(inst, call_id)["status"]
    inst.start("worker")  # Restart=always
    done = wait_for(lambda: call(inst, call_id)["status"] == "done", 300, 1)
    job = inst.api("GET", f"/api/v1/jobs/{running['id']}").json()
    calls = [c for c in inst.api("GET", "/api/v1/calls").json()["calls"] if c["id"] == call_id]
    ok = bool(done) and job["state"] == "succeeded" and len(calls) == 1
    verdict(
        "kill the worker mid-transcription",
        ok,
        f"job {running['id']} killed while running (call {state_after_kill}); after the restart the "
        f"job is {job['state']} after {job['attempts']} attempts, {time.time() - killed_at:.0f} s "
        f"after the kill; call {call_id} is {calls[0]['status'] if calls else 'MISSING'}, stored once",
    )


def restart_postgres(inst: Instance, background: Background) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    start = time.time()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "stop", "-m", "fast"],
        check=True,
    )
    time.sleep(5)  # a few seconds with the database gone
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True
    )
    back = time.time()
    recovered = wait_for(
        lambda: next((a for a in background.answers if a[0] > back and a[2] == 200), None), 60, 0.5
    )
    time.sleep(10)
    seen = background.window(start, back + 10)
    statuses: dict[int, int] = {}
    for _t, _what, status, _body in seen:
        statuses[status] = statuses.get(status, 0) + 1
    bad = [a for a in seen if a[2] not in (200, 201, 302, 503)]
    unclear = [
        a
        for a in seen
        if a[2] == 503 and "database_unavailable" not in a[3] and "データベース" not in a[3]
    ]
    tracebacks = [a for a in seen if "Traceback" in a[3]]
    # every notice the desk said it saved is there
    missing = [
        nid for nid in background.created
        if inst.api("GET", f"/api/v1/notices/{nid}", user="op1").status_code != 200
    ]  # fmt: skip
    # the worker and the scheduler carry on
    after = upload(inst, 9002)
    new_call = after.json()["calls"][0]["id"] if after.status_code == 202 else None
    transcribed = new_call and wait_for(lambda: call(inst, new_call)["status"] == "done", 240, 1)
    health = requests.get(inst.url + "/healthz", timeout=30)
    ok = (
        not bad
        and not unclear
        and not tracebacks
        and not missing
        and bool(recovered)
        and bool(transcribed)
    )
    verdict(
        "restart PostgreSQL",
        ok,
        f"answers during the outage and 10 s after, by status: {statuses}; 500s/other: {len(bad)}, "
        f"503 without the Japanese database message: {len(unclear)}, tracebacks: {len(tracebacks)}; "
        f"first 200 {recovered[0] - back:.1f} s after PostgreSQL was back; "
        f"{len(background.created)} notices answered 201, {len(missing)} missing; a call uploaded after it "
        f"{'was transcribed' if transcribed else 'was NOT transcribed'}; /healthz {health.status_code}"
        if recovered
        else f"the desk did not recover within 60 s; statuses {statuses}",
    )


def kill_scheduler(inst: Instance) -> None:
    event = inst.api("POST", "/api/v1/events", json={"name": "障害試験", "exercise": True}).json()
    slot = (datetime.now(UTC) + timedelta(seconds=40)).replace(microsecond=0)
    inst.api(
        "POST", f"/api/v1/events/{event['id']}/schedules",
        json={"kind": "interval", "interval_minutes": 60, "start_at": slot.isoformat()},
    ).raise_for_status()  # fmt: skip
    # kill it a moment after the slot came due (the tick runs every 10 s here)
    time.sleep(max(0, slot.timestamp() - time.time()) + 6)
    inst.kill("scheduler")
    killed = time.time()
    issued_while_down = len(
        inst.api("GET", f"/api/v1/events/{event['id']}/bulletins").json()["bulletins"]
    )
    time.sleep(15)
    inst.start("scheduler")
    found = wait_for(
        lambda: inst.api("GET", f"/api/v1/events/{event['id']}/bulletins").json()["bulletins"],
        180,
        2,
    )
    time.sleep(30)  # a few more ticks: a duplicate would show now
    bulletins = inst.api("GET", f"/api/v1/events/{event['id']}/bulletins").json()["bulletins"]
    slots = [b.get("slot_at") or b.get("slot_key") for b in bulletins]
    ok = len(bulletins) == 1 and len(set(slots)) == len(slots)
    verdict(
        "kill the scheduler during a bulletin slot",
        ok,
        f"killed {killed - slot.timestamp():.0f} s after the {slot.astimezone().strftime('%H:%M:%S')} slot "
        f"({issued_while_down} bulletin issued before the kill); restarted 15 s later; "
        f"bulletins for the slot: {len(bulletins)} (first {'seen' if found else 'NOT seen'}), slots {slots}",
    )


def fill_disk(inst: Instance, filler: Path) -> None:
    first = upload(inst, 9003)
    first_id = first.json()["calls"][0]["id"] if first.status_code == 202 else None
    free = os.statvfs(filler.parent).f_bavail * os.statvfs(filler.parent).f_frsize
    with open(filler, "wb") as handle:  # leave 64 KB: less than one recording
        handle.write(b"\0" * max(0, free - 64 * 1024))
    refused = upload(inst, 9004)
    health = requests.get(inst.url + "/healthz", timeout=30)
    disk_check = health.json().get("checks", {}).get("disk", {})
    filler.unlink()
    again = upload(inst, 9005)
    kept = (
        first_id is not None
        and inst.api("GET", f"/api/v1/calls/{first_id}/audio", user="op1").status_code == 200
    )
    error = (
        refused.json().get("error", {})
        if refused.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    ok = (
        refused.status_code == 507
        and error.get("code") == "storage_full"
        and kept
        and again.status_code == 202
        and health.status_code == 503
    )
    verdict(
        "fill the upload folder's disk",
        ok,
        f"upload with 64 KB left: {refused.status_code} {error.get('code')} 「{error.get('message', '')[:40]}…」; "
        f"/healthz {health.status_code} (disk: {disk_check.get('ok')}, {str(disk_check.get('detail', ''))[:60]}); "
        f"the call stored before {'is intact' if kept else 'is MISSING'}; after freeing space: {again.status_code}",
    )


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="dai-faults-"))
    feed = FeedServer()
    inst = Instance(
        "faults", base / "instance", "postgresql", assemble_models(base / "shared"), feed=feed
    )
    inst.extra_env = {"DISASTER_AI_DISK_MIN_FREE_MB": "1"}
    mounted = False
    background = None
    try:
        inst.create(operators=1, approvers=1, desk_users=10)
        calls = inst.folder / "calls"
        calls.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            mounted = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(calls)], capture_output=True
            ).returncode == 0  # fmt: skip
        inst.start()
        background = Background(inst, inst.district_names())
        background.start()
        time.sleep(10)
        kill_worker(inst)
        restart_postgres(inst, background)
        kill_scheduler(inst)
        if mounted:
            fill_disk(inst, calls / "filler.bin")
        else:
            verdict("fill the upload folder's disk", False, "not run: mounting a tmpfs needs root")
    finally:
        if background is not None:
            background.stop()
        inst.stop()
        feed.close()
        if mounted:
            subprocess.run(["umount", str(inst.folder / "calls")], check=False)
        drop_pg_database(inst.db_url)
        cleanup(base)
    bad = [name for name, ok, _ in RESULTS if not ok]
    print(
        f"\n{len(RESULTS) - len(bad)} of {len(RESULTS)} faults handled as expected"
        + (f"; not: {', '.join(bad)}" if bad else "")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
