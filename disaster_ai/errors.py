"""The one HTTP error format: {"error": {"code", "message", "details"}}."""

from __future__ import annotations


class ApiError(Exception):
    """Raise from any view to answer with the JSON error format (or an error page in the UI)."""

    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else {}

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ModelMissing(FileNotFoundError):
    """A model file or folder that a command needs is not there; ``command`` makes it (e.g.
    ``disaster-ai models assemble``). The CLI turns it into one Japanese sentence, exit code 2."""

    def __init__(self, path, command: str, message: str | None = None):
        super().__init__(message or f"no model at {path}: run `{command}`")
        self.path = str(path)
        self.command = command
