"""The OpenAI Batch API over HTTP: upload a JSONL file, create a batch, poll it, download its files.

A thin client on the standard library (urllib): the few requests a batch needs do not justify the
`openai` client's typed layer, and the same code then speaks to the loopback fake in
`llmrec.llm.testing_batch`. Every failure becomes a `BatchAPIError` naming the call and the server.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

from llmrec.llm.errors import StageError

TERMINAL = ("completed", "failed", "expired", "cancelled")


class BatchAPIError(StageError):
    """A Batch API call failed (HTTP error, no connection, unreadable reply)."""


class BatchClient:
    """Files and batches endpoints of one OpenAI-compatible server."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float) -> None:
        self.url = base_url.rstrip("/")
        self.key = api_key
        self.timeout = timeout_s

    def upload(self, name: str, data: bytes) -> str:
        """Upload `data` as a batch input file; its file id."""
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/jsonl\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        reply = self._json("POST", "/files", body, f"multipart/form-data; boundary={boundary}")
        return str(_field(reply, "id", "POST /files"))

    def create(
        self, input_file_id: str, endpoint: str, window: str, metadata: dict[str, str]
    ) -> dict[str, Any]:
        """Create a batch over an uploaded file; the batch object."""
        body = {
            "input_file_id": input_file_id,
            "endpoint": endpoint,
            "completion_window": window,
            "metadata": metadata,
        }
        return self._json("POST", "/batches", json.dumps(body).encode())

    def get(self, batch_id: str) -> dict[str, Any]:
        """The batch object now (status, request counts, output and error file ids)."""
        return self._json("GET", f"/batches/{batch_id}")

    def find(self, input_file_id: str) -> dict[str, Any] | None:
        """The most recent batch created over `input_file_id`, if any (one page of 100)."""
        listing = self._json("GET", "/batches?limit=100")
        for batch in listing.get("data") or []:
            if isinstance(batch, dict) and batch.get("input_file_id") == input_file_id:
                return batch
        return None

    def content(self, file_id: str) -> bytes:
        """The bytes of a file (a batch's output or error file)."""
        return self._call("GET", f"/files/{file_id}/content", None, None)

    def _json(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> dict[str, Any]:
        raw = self._call(method, path, body, content_type)
        try:
            data = json.loads(raw)
        except ValueError:
            raise BatchAPIError(f"{method} {self.url}{path}: the reply is not JSON") from None
        if not isinstance(data, dict):
            raise BatchAPIError(f"{method} {self.url}{path}: the reply is not a JSON object")
        return data

    def _call(self, method: str, path: str, body: bytes | None, content_type: str | None) -> bytes:
        request = urllib.request.Request(self.url + path, data=body, method=method)
        request.add_header("Authorization", f"Bearer {self.key}")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:200]
            raise BatchAPIError(f"{method} {self.url}{path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BatchAPIError(f"{method} {self.url}{path}: cannot reach the server ({reason})") from None


def _field(data: dict[str, Any], name: str, where: str) -> Any:
    if name not in data:
        raise BatchAPIError(f"{where}: the reply has no {name!r}")
    return data[name]
