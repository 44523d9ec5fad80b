"""Errors of the LLM layer, each with a one-line message that says what failed and where.

Three kinds, by what the caller should do:
- `RequestFailed`: one item failed for good (a 4xx, a prompt missing from a replay file); the batch
  goes on and the item is counted as a failure.
- `StageError`: nothing more can succeed (rejected key, unknown model, unreachable server, retry
  budget spent); the batch stops sending, keeps what arrived, and the stage ends with this message.
- `Transient`: raised by a backend's single call when a retry may help; never leaves the layer.
"""

from __future__ import annotations

from llmrec.errors import LLMRecError


class LLMError(LLMRecError):
    """Any failure of the LLM layer."""


class RequestFailed(LLMError):
    """One request failed in a way a retry cannot fix; the others go on."""


class RequestRejected(RequestFailed):
    """The server refused one request as invalid (a 4xx other than 401/403/404/408/429)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"request rejected with HTTP {status}: {_clip(detail)}")
        self.status = status


class ReplayMiss(RequestFailed):
    """A replay file holds no answer for this prompt."""

    def __init__(self, path: str, what: str) -> None:
        super().__init__(f"{path} holds no answer for {_clip(what)}")


class StageError(LLMError):
    """No further request can succeed; the stage stops after keeping the answers received."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.progress = ""  # filled in by the cached wrapper: how much is already cached

    def __str__(self) -> str:
        return self.message + self.progress


class ServerUnreachable(StageError):
    """No connection could be made to the server."""

    def __init__(self, url: str, attempts: int, cause: str) -> None:
        super().__init__(f"cannot reach the LLM server at {url} ({cause}) after {attempts} attempt(s)")


class UnknownModel(StageError):
    """The server does not serve the requested model."""

    def __init__(self, model: str, url: str) -> None:
        super().__init__(f"the LLM server at {url} does not serve model {model!r}")


class EndpointMissing(StageError):
    """The server has no such API path (HTTP 404 that is not about the model)."""

    def __init__(self, url: str, path: str) -> None:
        super().__init__(f"the LLM server at {url} has no {path} (HTTP 404); does the base URL end in /v1?")


class KeyRejected(StageError):
    """The server refused the API key (HTTP 401 or 403)."""

    def __init__(self, url: str, key_env: str, status: int) -> None:
        super().__init__(f"the LLM server at {url} rejected the API key from ${key_env} (HTTP {status})")


class MissingAPIKey(StageError):
    """No API key is set for a server that needs one."""

    def __init__(self, key_env: str, url: str) -> None:
        super().__init__(f"no API key for {url}: set the environment variable {key_env}")


class RetriesExhausted(StageError):
    """A request kept failing with retryable errors past the retry budget."""

    def __init__(self, url: str, attempts: int, cause: str) -> None:
        super().__init__(f"LLM server {url} kept failing ({cause}), gave up after {attempts} attempt(s)")


class MissingDependency(StageError):
    """An optional backend's package is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"this backend needs {package}: pip install 'llmrec[{extra}]'")


class BackendFailed(StageError):
    """A local backend raised an error that is not about one prompt."""


class Transient(LLMError):
    """A failure that may pass: timeout, 429, 5xx, dropped connection, unreadable body."""

    def __init__(self, cause: str, retry_after: float | None = None, *, unreachable: bool = False) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said
        self.unreachable = unreachable  # no connection was made at all


def _clip(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters, so messages stay one line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
