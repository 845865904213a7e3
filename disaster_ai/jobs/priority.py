"""Jobs run below the web's CPU priority, so that desk pages stay fast while calls are transcribed
on the same cores (docs/deploy.md).

- ``disaster-ai worker`` (the child that ``disaster-ai run`` supervises, or a systemd unit) calls
  :func:`apply_to_process` first thing: every thread of the process gets the niceness
  ``WORKER_NICE`` (threads made later inherit it: the job threads, ctranslate2's and torch's
  pools), and the OpenMP/BLAS/torch thread pools are capped at ``WORKER_CPU_THREADS`` for the
  libraries loaded from then on; ``disaster-ai run`` also starts the child with those variables
  set (:func:`worker_environment`), so they hold from its first import.
- In-process job threads in a web process (``disaster-ai run --worker-threads``) lower only
  their own thread (:func:`lower_thread_priority`; Linux keeps a niceness per thread), so the
  threads serving requests keep theirs.

A niceness is only ever raised: an unprivileged process cannot lower it again, and 0 leaves it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def _raise_niceness(who: int, nice: int) -> int:
    current = os.getpriority(os.PRIO_PROCESS, who)
    if nice > current:
        try:
            os.setpriority(os.PRIO_PROCESS, who, nice)
        except (PermissionError, ProcessLookupError):
            return current  # a thread that ended meanwhile
        return nice
    return current


def _thread_ids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:  # not Linux: PRIO_PROCESS with 0 is the whole process
        return [0]


def lower_process_priority(nice: int) -> int:
    """Raise every thread of this process to at least ``nice``; returns the calling thread's
    niceness afterwards."""
    if nice > 0 and hasattr(os, "setpriority"):
        for tid in _thread_ids():
            _raise_niceness(tid, nice)
    return os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else 0


def lower_thread_priority(nice: int) -> int:
    """Raise the calling thread alone to at least ``nice`` (Linux; elsewhere nothing changes,
    as the process is shared with the web); returns its niceness."""
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return 0
    tid = threading.get_native_id()
    return _raise_niceness(tid, nice) if nice > 0 else os.getpriority(os.PRIO_PROCESS, tid)


def limit_threads(count: int | None) -> None:
    """Cap the numeric libraries' thread pools at ``count`` for what loads from now on (and
    torch, if already loaded). A variable the operator set keeps its value."""
    if not count:
        return
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(int(count)))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(count))


def worker_environment(config, base=None) -> dict:
    """The environment for a worker child process: ``base`` (default: ours) with the thread caps,
    so they hold from its first import (numpy's BLAS reads them when it loads)."""
    env = dict(os.environ if base is None else base)
    count = config.get("WORKER_CPU_THREADS")
    if count:
        for name in THREAD_VARIABLES:
            env.setdefault(name, str(int(count)))
    return env


def apply_to_process(config) -> int:
    """For a worker process, before any job runs: the niceness and the thread caps."""
    limit_threads(config.get("WORKER_CPU_THREADS"))
    nice = lower_process_priority(int(config.get("WORKER_NICE") or 0))
    log.info("job worker at niceness %s", nice)
    return nice
