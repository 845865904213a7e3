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
