"""Plain ASGI layers around the app: a body-size limit and Prometheus metrics per endpoint.

Both are raw ASGI (no `BaseHTTPMiddleware`): they add a few microseconds to a request, where the
hot path answers in about a millisecond.
"""

from __future__ import annotations

import json
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

Scope = dict[str, Any]
ASGI = Any

# latency buckets in seconds: fine below 25 ms, where the targets are
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def error_body(status: int, message: str, where: str) -> bytes:
    """The JSON of a 4xx answer (the same shape as `RequestError.body`)."""
    return json.dumps({"error": {"status": status, "message": message, "where": where}}).encode()


async def _send_json(send: ASGI, status: int, body: bytes) -> None:
    """Answer with a JSON body."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over `limit` bytes with a 413 JSON error, before the app parses them.

    A declared Content-Length over the limit is refused at once; otherwise the body is read (up to
    the limit plus one byte) and replayed to the app, so a chunked upload cannot slip past.
    """

    def __init__(self, app: ASGI, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: ASGI, send: ASGI) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        where = f"body of {scope['method']} {scope['path']}"
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _send_json(send, 413, error_body(413, self._message(int(value)), where))
                return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await _send_json(send, 413, error_body(413, self._message(size, at_least=True), where))
                return
        body, replayed = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()  # e.g. http.disconnect, for a streaming response
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _message(self, size: int, at_least: bool = False) -> str:
        """What a 413 says."""
        return (
            f"request body of {'at least ' if at_least else ''}{size} bytes is over the limit of {self.limit}"
        )


class Metrics:
    """Request counts (by endpoint, method and status) and latency histograms (by endpoint).

    The endpoint is the route's path template (`/users/{user_id}/recommendations`), so the label set
    stays small whatever ids are asked for; an unmatched path counts as `unmatched`.
    """

    def __init__(self, app: ASGI, registry: CollectorRegistry) -> None:
        self.app, self.registry = app, registry
        self.requests = Counter(
            "llmrec_requests", "HTTP requests answered", ["endpoint", "method", "status"], registry=registry
        )
        self.latency = Histogram(
            "llmrec_request_seconds", "Time to answer, in seconds", ["endpoint"], buckets=BUCKETS,
            registry=registry,
        )  # fmt: skip
        self.in_flight = Gauge("llmrec_requests_in_flight", "Requests being answered", registry=registry)

    async def __call__(self, scope: Scope, receive: ASGI, send: ASGI) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def record(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.in_flight.inc()
        try:
            await self.app(scope, receive, record)
        finally:
            self.in_flight.dec()
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.latency.labels(endpoint).observe(time.perf_counter() - start)
            self.requests.labels(endpoint, scope["method"], str(status)).inc()


__all__ = ["BUCKETS", "BodyLimit", "Metrics", "error_body"]
