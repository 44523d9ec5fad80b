"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks, with fault injection.

It speaks POST /v1/chat/completions and /v1/embeddings in the OpenAI JSON shape, counts the requests
it receives, and can be scripted: a function from messages to answer text, a fixed latency, and
faults applied to the next requests (or to all of them): slow answers, HTTP errors with Retry-After,
dropped connections, truncated bodies, bodies that are not JSON.

Tokens are counted as whitespace-separated words, so tests can compute usage and cost by hand.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Answer = Callable[[list[dict[str, str]]], str]
# (token, logprob) alternatives of the first answer token, for a request that asks for logprobs
Logprobs = Callable[[list[dict[str, str]]], list[tuple[str, float]]]


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of (or before) answering it."""

    kind: str  # delay | status | drop | truncate | garbage
    status: int = 0
    retry_after: str | None = None  # sent verbatim as the Retry-After header
    delay_s: float = 0.0
    message: str = "injected fault"


def slow(seconds: float) -> Fault:
    """Answer normally, but only after `seconds`."""
    return Fault("delay", delay_s=seconds)


def http_error(status: int, retry_after: float | str | None = None, message: str = "injected fault") -> Fault:
    """Reply with HTTP `status`, an OpenAI-style error body, and optionally a Retry-After header."""
    return Fault(
        "status",
        status=status,
        retry_after=None if retry_after is None else str(retry_after),
        message=message,
    )


DROP = Fault("drop")  # read the request, then close the connection without a reply
TRUNCATE = Fault("truncate")  # send headers and half of the body, then close
GARBAGE = Fault("garbage")  # 200 with a body that is not JSON


def echo(messages: list[dict[str, str]]) -> str:
    """Default answer: the last user message, prefixed with 'echo:'."""
    last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return f"echo: {last}"


def words(text: str) -> int:
    """The fake server's token count: whitespace-separated words."""
    return len(text.split())


def fake_vector(text: str, dim: int) -> list[float]:
    """A deterministic embedding of `text` with values in [-1, 1)."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(digest[i % len(digest)] - 128) / 128 for i in range(dim)]


class FakeOpenAIServer:
    """Threaded OpenAI-compatible server on a free loopback port; use as a context manager."""

    def __init__(
        self,
        *,
        answer: Answer = echo,
        delay_s: float = 0.0,
        models: Collection[str] | None = None,
        api_key: str | None = None,
        embed_dim: int = 8,
        port: int = 0,
        logprobs: Logprobs | None = None,
    ) -> None:
        self.answer = answer
        self.logprobs = logprobs  # None: a server that ignores `logprobs` (no logprobs in the reply)
        self.delay_s = delay_s  # latency of every answer
        self.models = None if models is None else set(models)  # None: serve any model name
        self.api_key = api_key  # None: accept any key
        self.embed_dim = embed_dim
        self.requests = 0  # received on the two API paths, faulted or not
        self.completed = 0  # answered with 200 and a full, valid body
        self.bodies: list[dict[str, Any]] = []  # JSON bodies received, in order
        self._faults: deque[Fault | None] = deque()
        self._always: Fault | None = None
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL to give an OpenAI client, ending in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *faults: Fault | None) -> None:
        """Apply these faults to the next requests, one each, in order (None: answer normally)."""
        with self._lock:
            self._faults.extend(faults)

    def fail_always(self, fault: Fault | None) -> None:
        """Apply `fault` to every request once the pushed faults are used up (None: stop)."""
        with self._lock:
            self._always = fault

    def reset_counts(self) -> None:
        """Zero the request counters and forget the bodies received."""
        with self._lock:
            self.requests = self.completed = 0
            self.bodies.clear()

    def start(self) -> FakeOpenAIServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _receive(self, body: dict[str, Any]) -> Fault | None:
        """Count a request and pick the fault to apply to it."""
        with self._lock:
            self.requests += 1
            self.bodies.append(body)
            return self._faults.popleft() if self._faults else self._always

    def _done(self) -> None:
        with self._lock:
            self.completed += 1

    def _reply(self, path: str, body: dict[str, Any], auth: str) -> tuple[int, dict[str, Any]]:
        """Status and JSON body of the normal (unfaulted) answer."""
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            return 401, _error("Incorrect API key provided.", "invalid_api_key")
        model = str(body.get("model", ""))
        if self.models is not None and model not in self.models:
            return 404, _error(f"The model `{model}` does not exist.", "model_not_found")
        if path.endswith("/embeddings"):
            return 200, self._embeddings(model, body.get("input", ""))
        return 200, self._chat(model, body)

    def _chat(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages", [])
        text = self.answer(messages)
        finish = "stop"
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if limit is not None and words(text) > limit:
            text, finish = " ".join(text.split()[:limit]), "length"
        prompt = sum(words(m.get("content", "")) for m in messages)
        choice: dict[str, Any] = {
            "index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish
        }  # fmt: skip
        if body.get("logprobs") and self.logprobs is not None:
            top = self.logprobs(messages)[: int(body.get("top_logprobs") or 1)]
            first = {"token": top[0][0], "logprob": top[0][1]} if top else {"token": "", "logprob": 0.0}
            choice["logprobs"] = {
                "content": [{**first, "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top]}]
            }
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": words(text),
                "total_tokens": prompt + words(text),
            },
        }

    def _embeddings(self, model: str, inputs: str | list[str]) -> dict[str, Any]:
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        tokens = sum(words(t) for t in texts)
        return {
            "object": "list",
            "model": model,
            "data": [
                {"object": "embedding", "index": i, "embedding": fake_vector(t, self.embed_dim)}
                for i, t in enumerate(texts)
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


def _error(message: str, code: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    """An error body in OpenAI's shape."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of concurrent connects must not be refused
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that time out or drop connections are part of the tests."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path not in ("/v1/chat/completions", "/v1/embeddings"):
            self._send(404, _error(f"no route {self.path}", "not_found"))
            return
        fake = self.server.fake
        body = json.loads(raw or b"{}")
        fault = fake._receive(body)
        delay = fake.delay_s + (fault.delay_s if fault is not None and fault.kind == "delay" else 0.0)
        if delay:
            time.sleep(delay)
        if fault is not None and fault.kind != "delay":
            self._inject(fault)
            return
        status, payload = fake._reply(self.path, body, self.headers.get("Authorization", ""))
        self._send(status, payload)
        if status == 200:
            fake._done()

    def _inject(self, fault: Fault) -> None:
        """Misbehave as `fault` says."""
        if fault.kind == "status":
            code = {429: "rate_limit_exceeded"}.get(fault.status, "injected")
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(fault.status, _error(fault.message, code), headers)
        elif fault.kind == "drop":
            self._hang_up()
        elif fault.kind == "truncate":
            data = json.dumps(self.server.fake._chat("fake", {"messages": []})).encode()
            self._head(200, len(data), {})
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._hang_up()
        elif fault.kind == "garbage":
            data = b"\x00<html>502 upstream gone</html>"
            self._head(200, len(data), {})
            self.wfile.write(data)
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _hang_up(self) -> None:
        """Close the socket at once, mid-exchange."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _head(self, status: int, length: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self._head(status, len(data), headers or {})
        self.wfile.write(data)
