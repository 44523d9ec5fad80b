"""A lean transport for OpenAI-compatible servers: plain HTTP/1.1 over a socket, one keep-alive
connection per thread and server.

The `openai` client spends about 1.5 ms of CPU per request (httpx, its transforms); http.client about
0.3 ms; this raw exchange (Content-Length or chunked replies) less again. With many replicas that is
the difference between a client that keeps them busy and one that cannot (docs/scale.md). Errors map
as in `OpenAIBackend`: the same statuses are retried, refuse the item or stop the endpoint.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from typing import Any
from urllib.parse import urlsplit

from llmrec.llm.base import Sampling
from llmrec.llm.config import LLMConfig
from llmrec.llm.errors import EndpointMissing, KeyRejected, RequestRejected, Transient, UnknownModel
from llmrec.llm.openai_backend import PLACEHOLDER_KEY, RETRY_STATUSES, OpenAIBackend, retry_after_seconds


class LeanOpenAIBackend(OpenAIBackend):
    """`OpenAIBackend` with requests sent through http.client instead of the `openai` client."""

    def __init__(self, cfg: LLMConfig, api_key: str | None) -> None:
        super().__init__(cfg, api_key)
        self.sampling = Sampling(cfg.temperature, cfg.max_tokens)
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {self.url}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = cfg.timeout_s
        self._head = (
            f"Content-Type: application/json\r\nAuthorization: Bearer {api_key or PLACEHOLDER_KEY}\r\n"
        )
        self._local = threading.local()

    def _connection(self) -> _Conn:
        """This thread's connection to the server, opened on first use."""
        conn: _Conn | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _Conn(self._host, self._port, self._timeout, self._https)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _post(self, path: str, body: dict[str, Any], model: str) -> dict[str, Any]:
        """POST `body` and return the decoded JSON reply, mapping every failure to our errors."""
        if self._missing_key is not None:
            raise self._missing_key
        data = json.dumps(body).encode()
        head = (
            f"POST {self._prefix}{path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n{self._head}"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        try:
            status, headers, raw, keep = self._connection().exchange(head + data)
        except TimeoutError:
            self._drop_connection()
            raise Transient("timed out") from None
        except ConnectionRefusedError:
            self._drop_connection()
            raise Transient("connection refused", unreachable=True) from None
        except (OSError, ValueError):
            self._drop_connection()
            raise Transient("connection dropped") from None
        if not keep:
            self._drop_connection()
        if status != 200:
            raise self._lean_status_error(status, headers, raw, path, model)
        try:
            decoded = json.loads(raw)
        except ValueError:
            raise Transient("reply body is not JSON") from None
        if not isinstance(decoded, dict):
            raise Transient("reply body is not a JSON object")
        return decoded

    def _lean_status_error(
        self, status: int, headers: dict[str, str], raw: bytes, path: str, model: str
    ) -> Exception:
        """Our error for an HTTP error status, as `OpenAIBackend._status_error` decides it."""
        if status in RETRY_STATUSES or status >= 500:
            return Transient(f"HTTP {status}", retry_after_seconds(headers))
        text = _error_message(raw)
        if status in (401, 403):
            return KeyRejected(self.url, self._key_env, status)
        if status == 404:
            return (
                UnknownModel(model, self.url) if "model" in text.lower() else EndpointMissing(self.url, path)
            )
        return RequestRejected(status, text or f"HTTP {status}")


def _error_message(raw: bytes) -> str:
    """The message inside an error body, in OpenAI's or vLLM's shape, or the body itself."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
    inner = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(inner, dict):
        return str(inner.get("message", ""))
    return str(inner)


class _Conn:
    """One keep-alive HTTP/1.1 connection: send a request, read one reply (Content-Length or chunked)."""

    def __init__(self, host: str, port: int, timeout: float, https: bool) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if https:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes, bool]:
        """Status, headers (lower-case names), body, and whether the connection stays open."""
        self.sock.sendall(request)
        head = self._until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])  # ValueError on a garbled status line
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        else:
            body = self._exactly(int(headers.get("content-length", "0")))
        keep = headers.get("connection", "").lower() != "close" and lines[0].startswith("HTTP/1.1")
        return status, headers, body, keep

    def _fill(self) -> None:
        more = self.sock.recv(65536)
        if not more:
            raise ConnectionResetError("server closed the connection")
        self.buf += more

    def _until(self, marker: bytes) -> bytes:
        while (at := self.buf.find(marker)) < 0:
            self._fill()
        out, self.buf = self.buf[:at], self.buf[at + len(marker) :]
        return out

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                self._until(b"\r\n")  # no trailers expected: the empty line ends the body
                return b"".join(parts)
            parts.append(self._exactly(size))
            self._until(b"\r\n")
