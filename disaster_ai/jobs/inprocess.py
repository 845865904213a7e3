"""The default runner: worker threads in the serving process (or in `disaster-ai worker`)."""

from __future__ import annotations

import logging
import threading

from disaster_ai.jobs import priority
from disaster_ai.jobs.service import beat, due_job_ids, execute_job, recover_stale_jobs, worker_id

log = logging.getLogger(__name__)


class InProcessRunner:
    def __init__(self, app):
        self.app = app
        self.worker = worker_id()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def notify(self, job_id: int, delay: float = 0) -> None:
        if 0 < delay < self.app.config["JOB_POLL_SECONDS"]:
            # A retry due before the next poll: wake the threads when it is due, not a poll later.
            timer = threading.Timer(delay, self._wake.set)
            timer.daemon = True
            timer.start()
        else:
            self._wake.set()

    def run_pending(self) -> int:
        """Run every due job now, in this thread; returns how many ran (tests, CLI)."""
        ran = 0
        for job_id in due_job_ids(self.app):
            if execute_job(self.app, job_id, self.worker) is not None:
                ran += 1
        return ran

    def start(self) -> None:
        if self.alive:
            return  # already running; a second start would only add threads
        self._stop.clear()
        self._threads = []
        recovered = recover_stale_jobs(self.app)
        if recovered:
            log.warning("re-queued jobs left running by a stopped worker: %s", recovered)
        for index in range(self.app.config["JOB_WORKERS"]):
            thread = threading.Thread(target=self._loop, name=f"job-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        # Below the web's priority, this thread only (and what it starts: model thread pools);
        # in `disaster-ai worker` the whole process is already there (jobs/priority.py).
        priority.lower_thread_priority(int(self.app.config["WORKER_NICE"] or 0))
        poll = self.app.config["JOB_POLL_SECONDS"]
        beats = 0
        while not self._stop.is_set():
            try:
                if beats % 10 == 0:
                    beat(self.app, f"worker:{self.worker}", "worker", {"runner": "inprocess"})
                beats += 1
                self._wake.clear()  # before looking, so a notify that arrives meanwhile is kept
                ran = self.run_pending()
            except Exception:  # the database may be briefly unavailable; keep the worker alive
                log.exception("job worker loop error")
                ran = 0
            if not ran:
                self._wake.wait(poll)
