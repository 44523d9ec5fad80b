"""Any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp server, TGI) through the `openai` client.

The client's own retries are off (max_retries=0) so that `dispatch`'s policy is the one in force.
Requests go through `client.post` with the JSON body as is, and replies are parsed here: the typed
`create()` path spends about a third of the client's CPU time transforming and validating models,
which on a small machine is the bottleneck at 16 requests in flight.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import openai

try:  # the installed openai client's transport: httpx2 in recent releases, httpx in older ones
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the installed openai
    import httpx  # type: ignore[no-redef]

from llmrec.llm.base import (
    Backend,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Outcome,
    Sampling,
    Usage,
)
from llmrec.llm.config import LLMConfig
from llmrec.llm.dispatch import RateLimiter, RetryPolicy, dispatch
from llmrec.llm.errors import (
    EndpointMissing,
    KeyRejected,
    MissingAPIKey,
    RequestRejected,
    Transient,
    UnknownModel,
)
from llmrec.llm.wire import chat_from_json, usage_from_json, vectors_from_json

OPENAI_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "EMPTY"  # what vLLM, Ollama and llama.cpp server accept when they check no key
RETRY_STATUSES = {408, 409, 429}  # plus every 5xx; the same set the openai client retries


class OpenAIBackend(Backend):
    """Chat completions and embeddings from an OpenAI-compatible HTTP server."""

    kind = "openai"

    def __init__(self, cfg: LLMConfig, api_key: str | None) -> None:
        self.model = cfg.model
        self.embedding_model = cfg.embedding_model
        self.sampling = Sampling(cfg.temperature, cfg.max_tokens)
        self.url = (cfg.base_url or OPENAI_URL).rstrip("/")
        self.concurrency = cfg.concurrency
        self.embed_chunk = cfg.embed_batch
        self.retry = RetryPolicy(cfg.max_retries, cfg.backoff_base_s, cfg.backoff_max_s)
        self.limiter = RateLimiter(cfg.rpm, cfg.tpm)
        # A local server needs no key; api.openai.com does, but only once something is actually sent.
        key = api_key or (None if self.url == OPENAI_URL else PLACEHOLDER_KEY)
        self._missing_key = MissingAPIKey(cfg.api_key_env, self.url) if key is None else None
        self._key_env = cfg.api_key_env
        self._client_args = {
            "base_url": self.url, "api_key": key or PLACEHOLDER_KEY, "timeout": cfg.timeout_s
        }  # fmt: skip
        self._client_lock = threading.Lock()
        self._openai: openai.OpenAI | None = None

    @property
    def _client(self) -> openai.OpenAI:
        """The `openai` client, made on first use (its TLS set-up costs about 40 ms, and the lean
        transport of several endpoints never needs it)."""
        with self._client_lock:
            if self._openai is None:
                self._openai = openai.OpenAI(max_retries=0, **self._client_args)  # type: ignore[arg-type]
            return self._openai

    def complete_batch(self, requests: Sequence[ChatRequest]) -> Iterator[Outcome[ChatResponse]]:
        """Answer every request, `concurrency` at a time, under the retry and rate-limit policy."""
        if self._missing_key is not None and requests:
            yield Outcome(0, self._missing_key, 0)
            return
        yield from dispatch(
            self._chat,
            [self.resolved(r) for r in requests],
            concurrency=self.concurrency,
            retry=self.retry,
            limiter=self.limiter,
            cost=_chat_cost,
            where=self.url,
        )

    def embed_batch(self, requests: Sequence[EmbedRequest]) -> Iterator[Outcome[EmbedResponse]]:
        """Embed every text, `embed_batch` texts per request, `concurrency` requests at a time."""
        if self._missing_key is not None and requests:
            yield Outcome(0, self._missing_key, 0)
            return
        chunks = [
            list(range(i, min(i + self.embed_chunk, len(requests))))
            for i in range(0, len(requests), self.embed_chunk)
        ]
        texts = [[requests[i].text for i in chunk] for chunk in chunks]
        for outcome in dispatch(
            self._embed,
            texts,
            concurrency=self.concurrency,
            retry=self.retry,
            limiter=self.limiter,
            cost=_embed_cost,
            where=self.url,
        ):
            chunk = chunks[outcome.index]
            for n, index in enumerate(chunk):
                result = outcome.result[n] if isinstance(outcome.result, list) else outcome.result
                # The request is counted once, on the chunk's first item.
                yield Outcome(index, result, outcome.attempts if n == 0 else 0)

    def _chat(self, request: ChatRequest) -> ChatResponse:
        """One chat completion; raises Transient, RequestRejected or a StageError."""
        assert request.sampling is not None  # filled in by complete_batch
        s = request.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.message_dicts(),
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
        }
        if s.top_p != 1.0:
            body["top_p"] = s.top_p
        if s.seed is not None:
            body["seed"] = s.seed
        if s.top_logprobs:
            body["logprobs"], body["top_logprobs"] = True, s.top_logprobs
        data = self._post("/chat/completions", body, self.model)
        try:
            reply = chat_from_json(data, self.model)
        except ValueError as exc:
            raise Transient(str(exc)) from None
        used = reply.usage.prompt_tokens + reply.usage.completion_tokens
        self.limiter.refund(_chat_cost(request) - used)
        return reply

    def _embed(self, texts: list[str]) -> list[EmbedResponse]:
        """Embeddings of `texts` in one request, with the billed tokens split evenly among them."""
        body = {"model": self.embedding_model, "input": texts}
        data = self._post("/embeddings", body, self.embedding_model)
        try:
            vectors = vectors_from_json(data, len(texts))
        except ValueError as exc:
            raise Transient(str(exc)) from None
        share, rest = divmod(usage_from_json(data).prompt_tokens, len(texts))
        return [EmbedResponse(v, Usage(share + (i < rest), 0)) for i, v in enumerate(vectors)]

    def _post(self, path: str, body: dict[str, Any], model: str) -> dict[str, Any]:
        """POST `body` and return the decoded JSON reply, mapping every failure to our errors."""
        try:
            response = self._client.post(path, cast_to=httpx.Response, body=body)
            data = json.loads(response.content)
        except openai.APIStatusError as exc:
            raise self._status_error(exc, path, model) from None
        except openai.APITimeoutError:
            raise Transient("timed out") from None
        except openai.APIConnectionError as exc:
            refused = isinstance(exc.__cause__, httpx.ConnectError)
            raise Transient(
                "connection refused" if refused else "connection dropped", unreachable=refused
            ) from None
        except ValueError:  # JSON or Unicode decoding of a 200 body
            raise Transient("reply body is not JSON") from None
        if not isinstance(data, dict):
            raise Transient("reply body is not a JSON object")
        return data

    def _status_error(self, exc: openai.APIStatusError, path: str, model: str) -> Exception:
        """Our error for an HTTP error status: retry, refuse the item, or stop the stage."""
        status = exc.status_code
        if status in RETRY_STATUSES or status >= 500:
            return Transient(f"HTTP {status}", retry_after_seconds(exc.response.headers))
        if status in (401, 403):
            return KeyRejected(self.url, self._key_env, status)
        if status == 404:
            mentions_model = "model" in _error_text(exc.body).lower()
            return UnknownModel(model, self.url) if mentions_model else EndpointMissing(self.url, path)
        return RequestRejected(status, _error_text(exc.body) or exc.message)


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), if sent."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _error_text(body: object) -> str:
    """The message inside an error body, in OpenAI's or vLLM's shape."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message", ""))
        return str(inner)
    return "" if body is None else str(body)


def _chat_cost(request: ChatRequest) -> int:
    """Token estimate for the rate limit: about 4 characters per token, plus the completion budget."""
    chars = sum(len(m.content) for m in request.messages)
    return chars // 4 + 1 + (request.sampling.max_tokens if request.sampling else 0)


def _embed_cost(texts: list[str]) -> int:
    """Token estimate of an embeddings request."""
    return sum(len(t) for t in texts) // 4 + 1
