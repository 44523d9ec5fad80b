"""The two ways serving says no: a request it cannot answer, and a run it will not start on."""

from __future__ import annotations

from llmrec.errors import LLMRecError


class RequestError(Exception):
    """A request the server cannot answer: HTTP `status`, what is wrong, and where in the request."""

    def __init__(self, status: int, message: str, where: str) -> None:
        super().__init__(message)
        self.status, self.message, self.where = status, message, where

    def body(self) -> dict[str, dict[str, str | int]]:
        """The JSON error every 4xx answer carries."""
        return {"error": {"status": self.status, "message": self.message, "where": self.where}}


class RunRefused(LLMRecError):
    """A run directory that cannot be served (incomplete, or written by another version): one line."""


__all__ = ["RequestError", "RunRefused"]
