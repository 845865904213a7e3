"""Logs as one JSON line per event, with the request id and user when there is a request."""

from __future__ import annotations

import json
import logging
import sys

from flask import g, has_request_context

from disaster_ai.storage.base import now


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": now().isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
            actor = g.get("actor")
            entry["user"] = actor.username if actor else None
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (it may be replaced after start-up)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, OneLineFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = StderrHandler()
    handler.setFormatter(OneLineFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("alembic", "apscheduler.scheduler", "waitress.queue"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
