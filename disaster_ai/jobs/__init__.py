"""The one job API for slow work (transcription, drafting with a model, bulletins).

    job_id = enqueue("transcription.transcribe", {"call_id": 7}, actor=actor)

The row is committed before anything runs; the configured runner (in-process threads by
default, Celery on Redis when scaled out) then picks it up. States: queued → running →
succeeded | failed, with progress 0–100, a message, error text and retries with backoff.
"""

from disaster_ai.jobs.service import (
    JobContext,
    JobGiveUp,
    JobTimeout,
    enqueue,
    execute_job,
    get_handlers,
    job_to_dict,
)

__all__ = [
    "JobContext",
    "JobGiveUp",
    "JobTimeout",
    "enqueue",
    "execute_job",
    "get_handlers",
    "job_to_dict",
]
