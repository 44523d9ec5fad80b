"""Several OpenAI-compatible servers of one model behind one backend: spread, health, fail-over.

`MultiEndpointBackend` keeps one `LeanOpenAIBackend` (keep-alive connections) per URL and sends each
request to the healthy endpoint with the fewest requests in flight. An endpoint that fails
(`endpoint_failures` times in a row, or at once for a refused connection or a Retry-After) is marked
down; after `endpoint_probe_s` one probe request may go to it, and the probe's outcome brings it back
or keeps it down for twice as long (up to 8x). An endpoint that refuses the key, lacks the model or
the API path is misconfigured: it is taken out for the run and the others carry on; only when every
endpoint is out does the stage stop.

A request that fails on one endpoint is tried at once on another it has not tried yet; only when
every live endpoint failed does it go back to `dispatch`, which backs off and tries the round again
(`max_retries` rounds). Each HTTP request sent counts as one request in the stage's accounting.

The backend's `kind` stays "openai", so cache keys do not depend on which replica answered: an
answered prompt is never asked again, whichever endpoint list the rerun has.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from llmrec.llm.base import Backend, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, Outcome, Sampling
from llmrec.llm.config import LLMConfig
from llmrec.llm.dispatch import RateLimiter, RetryPolicy, dispatch
from llmrec.llm.errors import RequestFailed, StageError, Transient
from llmrec.llm.lean_http import LeanOpenAIBackend
from llmrec.llm.openai_backend import OpenAIBackend, _chat_cost, _embed_cost

log = logging.getLogger("llmrec")
T = TypeVar("T")
MAX_COOLDOWN_FACTOR = 8


class AllEndpointsMisconfigured(StageError):
    """Every endpoint of the list was taken out for a configuration error."""

    def __init__(self, reasons: dict[str, str]) -> None:
        listed = "; ".join(f"{url}: {why}" for url, why in reasons.items())
        super().__init__(f"no usable LLM endpoint left of {len(reasons)}: {listed}")


@dataclass
class Endpoint:
    """One server of the list: its client, its health and its counters."""

    url: str
    backend: OpenAIBackend
    in_flight: int = 0
    streak: int = 0  # consecutive failures
    down_until: float = 0.0  # monotonic time; 0.0: up
    cooldowns: int = 0  # times marked down in a row (grows the cooldown)
    probing: bool = False  # the one probe request of a down endpoint is out
    disabled: str = ""  # why it is out for the run (misconfigured), "" if not
    counts: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "requests",
                "answered",
                "errors",
                "item_failures",
                "marked_down",
                "prompt_tokens",
                "completion_tokens",
                "seconds",
            ),
            0,
        )  # fmt: skip
    )

    def state(self, now: float) -> str:
        """up | down | probe (down, but its cooldown is over) | disabled."""
        if self.disabled:
            return "disabled"
        if self.down_until == 0.0:
            return "up"
        return "probe" if now >= self.down_until else "down"


class EndpointPool:
    """Health and choice of endpoints; every method is thread-safe."""

    def __init__(
        self,
        endpoints: list[Endpoint],
        failures_to_down: int,
        probe_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoints = endpoints
        self.failures_to_down = failures_to_down
        self.probe_s = probe_s
        self._clock = clock
        self._lock = threading.Lock()
        self._turn = 0

    def acquire(self, exclude: set[str]) -> Endpoint | None:
        """The endpoint to send the next request to (not in `exclude`), or None if none may take one.

        A down endpoint whose cooldown is over and whose probe is not already out gets this request
        as its probe; otherwise the up endpoint with the fewest in flight, ties in turn.
        """
        with self._lock:
            now = self._clock()
            n = len(self.endpoints)
            order = [self.endpoints[(self._turn + k) % n] for k in range(n)]
            self._turn = (self._turn + 1) % n
            live = [e for e in order if e.url not in exclude]
            probes = [e for e in live if e.state(now) == "probe" and not e.probing]
            up = [e for e in live if e.state(now) == "up"]
            if probes:  # a down endpoint whose cooldown is over gets one request to show it is back
                chosen = probes[0]
                chosen.probing = True
            elif up:
                chosen = min(up, key=lambda e: e.in_flight)
            else:
                return None
            chosen.in_flight += 1
            chosen.counts["requests"] += 1
            return chosen

    def succeeded(self, ep: Endpoint, seconds: float, prompt_tokens: int, completion_tokens: int) -> None:
        """A request to `ep` was answered: it is up."""
        with self._lock:
            self._release(ep, seconds)
            ep.counts["answered"] += 1
            ep.counts["prompt_tokens"] += prompt_tokens
            ep.counts["completion_tokens"] += completion_tokens
            if ep.down_until:
                log.info("llm: endpoint %s answers again", ep.url)
            ep.streak, ep.down_until, ep.cooldowns = 0, 0.0, 0

    def item_failed(self, ep: Endpoint, seconds: float) -> None:
        """`ep` refused one item as invalid (a 4xx): the endpoint itself is fine."""
        with self._lock:
            self._release(ep, seconds)
            ep.counts["item_failures"] += 1
            ep.streak = 0

    def failed(self, ep: Endpoint, seconds: float, error: Transient) -> None:
        """A request to `ep` failed in a way that may pass; mark it down if it keeps failing."""
        with self._lock:
            self._release(ep, seconds)
            ep.counts["errors"] += 1
            ep.streak += 1
            now = self._clock()
            state = ep.state(now)
            at_once = error.unreachable or error.retry_after is not None or state != "up"
            if not at_once and ep.streak < self.failures_to_down:
                return
            if state == "down":  # a request sent before it went down: the cooldown stands
                return
            backoff = self.probe_s * min(2**ep.cooldowns, MAX_COOLDOWN_FACTOR)
            pause = backoff if error.retry_after is None else error.retry_after  # the server said when
            log.warning("llm: endpoint %s marked down for %.1f s (%s)", ep.url, pause, error.cause)
            ep.down_until = now + pause
            ep.cooldowns += 1
            ep.counts["marked_down"] += 1

    def wait_hint(self) -> float:
        """Seconds until the first down endpoint may take its probe (at least 10 ms)."""
        with self._lock:
            now = self._clock()
            waits = [e.down_until - now for e in self.endpoints if not e.disabled and e.down_until]
            return max(0.01, min(waits, default=0.01))

    def disable(self, ep: Endpoint, seconds: float, error: StageError) -> None:
        """`ep` is misconfigured (key, model, path): out for the rest of the run."""
        with self._lock:
            self._release(ep, seconds)
            ep.counts["errors"] += 1
            if not ep.disabled:
                log.warning("llm: endpoint %s taken out: %s", ep.url, error.message)
            ep.disabled = error.message

    def all_disabled(self) -> dict[str, str] | None:
        """url -> reason when every endpoint is out for the run, else None."""
        with self._lock:
            if all(e.disabled for e in self.endpoints):
                return {e.url: e.disabled for e in self.endpoints}
            return None

    def report(self) -> list[dict[str, Any]]:
        """Per-endpoint counters and state, for the run's audit."""
        with self._lock:
            now = self._clock()
            rows = []
            for e in self.endpoints:
                c = e.counts
                row: dict[str, Any] = {"url": e.url, "state": e.state(now)}
                row.update({k: int(v) for k, v in c.items() if k != "seconds"})
                row["mean_latency_ms"] = (
                    round(1000 * c["seconds"] / c["requests"], 2) if c["requests"] else None
                )
                if e.disabled:
                    row["disabled_because"] = e.disabled
                rows.append(row)
            return rows

    def _release(self, ep: Endpoint, seconds: float) -> None:
        ep.in_flight -= 1
        ep.probing = False
        ep.counts["seconds"] += seconds


class MultiEndpointBackend(Backend):
    """Chat completions and embeddings from several OpenAI-compatible servers serving one model."""

    kind = "openai"  # same cache keys as a single server: the answers are the same model's

    def __init__(
        self, cfg: LLMConfig, api_key: str | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not cfg.base_urls:
            raise ValueError("MultiEndpointBackend needs llm.base_urls")
        self.model = cfg.model
        self.embedding_model = cfg.embedding_model
        self.sampling = Sampling(cfg.temperature, cfg.max_tokens)
        self.concurrency = cfg.concurrency
        self.embed_chunk = cfg.embed_batch
        self.retry = RetryPolicy(cfg.max_retries, cfg.backoff_base_s, cfg.backoff_max_s)
        self.limiter = RateLimiter(cfg.rpm, cfg.tpm)  # one budget for the whole list
        endpoints = [
            Endpoint(
                url.rstrip("/"),
                LeanOpenAIBackend(dataclasses.replace(cfg, base_url=url, base_urls=()), api_key),
            )
            for url in cfg.base_urls
        ]
        self.pool = EndpointPool(endpoints, cfg.endpoint_failures, cfg.endpoint_probe_s, clock)
        self.where = f"{len(endpoints)} endpoints ({', '.join(e.url for e in endpoints)})"

    def endpoint_report(self) -> list[dict[str, Any]]:
        """Per-endpoint counters: requests, answers, errors, times marked down, tokens, latency, state."""
        return self.pool.report()

    def complete_batch(self, requests: Sequence[ChatRequest]) -> Iterator[Outcome[ChatResponse]]:
        """Answer every request over the endpoints, `concurrency` in flight in all."""
        resolved = [self.resolved(r) for r in requests]
        return self._spread(resolved, lambda b, r: b._chat(r), _chat_cost, _chat_usage)

    def embed_batch(self, requests: Sequence[EmbedRequest]) -> Iterator[Outcome[EmbedResponse]]:
        """Embed every text, `embed_batch` texts per request, over the endpoints."""
        chunks = [
            list(range(i, min(i + self.embed_chunk, len(requests))))
            for i in range(0, len(requests), self.embed_chunk)
        ]
        texts = [[requests[i].text for i in chunk] for chunk in chunks]
        for outcome in self._spread(texts, lambda b, t: b._embed(t), _embed_cost, _embed_usage):
            chunk = chunks[outcome.index]
            for n, index in enumerate(chunk):
                result = outcome.result[n] if isinstance(outcome.result, list) else outcome.result
                more = n < len(chunk) - 1 or outcome.more
                yield Outcome(index, result, outcome.attempts if n == 0 else 0, more)

    def _spread(
        self,
        items: Sequence[T],
        send: Callable[[OpenAIBackend, T], Any],
        cost: Callable[[T], int],
        usage: Callable[[Any], tuple[int, int]],
    ) -> Iterator[Outcome[Any]]:
        """Dispatch `items`; each round tries every live endpoint once; attempts are HTTP requests."""
        sent = [0] * len(items)  # one thread works on an item at a time: no lock needed

        def call(pair: tuple[int, T]) -> Any:
            index, item = pair
            tried: set[str] = set()
            last: Transient | None = None
            while True:
                ep = self.pool.acquire(tried)
                if ep is None:
                    if (reasons := self.pool.all_disabled()) is not None:
                        raise AllEndpointsMisconfigured(reasons)
                    if last is None:
                        raise Transient("every endpoint is down, waiting for a probe", self.pool.wait_hint())
                    raise last
                if tried:  # a fail-over within the round goes through the rate limit too
                    self.limiter.acquire(cost(item))
                tried.add(ep.url)
                sent[index] += 1
                start = time.perf_counter()
                try:
                    result = send(ep.backend, item)
                except Transient as exc:
                    self.pool.failed(ep, time.perf_counter() - start, exc)
                    last = Transient(f"{ep.url}: {exc.cause}", unreachable=exc.unreachable)
                    continue
                except RequestFailed:
                    self.pool.item_failed(ep, time.perf_counter() - start)
                    raise
                except StageError as exc:  # this endpoint's key, model or path is wrong
                    self.pool.disable(ep, time.perf_counter() - start, exc)
                    continue
                self.pool.succeeded(ep, time.perf_counter() - start, *usage(result))
                return result

        for outcome in dispatch(
            call,
            list(enumerate(items)),
            concurrency=self.concurrency,
            retry=self.retry,
            limiter=self.limiter,
            cost=lambda pair: cost(pair[1]),
            where=self.where,
        ):
            yield Outcome(outcome.index, outcome.result, sent[outcome.index], outcome.more)


def _chat_usage(reply: ChatResponse) -> tuple[int, int]:
    return reply.usage.prompt_tokens, reply.usage.completion_tokens


def _embed_usage(replies: list[EmbedResponse]) -> tuple[int, int]:
    return sum(r.usage.prompt_tokens for r in replies), 0
