"""`LLMConfig`: which backend and model to use, and how hard to push it. Defaults live here, once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmrec.errors import ConfigError

BACKENDS = ("openai", "openai_batch", "llamacpp", "replay")
ENV_BASE_URL = "LLMREC_LLM_BASE_URL"
ENV_BASE_URLS = "LLMREC_LLM_BASE_URLS"  # comma- or whitespace-separated: several replicas of one model
ENV_MODEL = "LLMREC_LLM_MODEL"
ENV_EMBEDDING_MODEL = "LLMREC_LLM_EMBEDDING_MODEL"


@dataclass(frozen=True)
class LLMConfig:
    """Backend, model, request policy, sampling defaults, prices and cache location."""

    backend: str = "openai"  # openai | openai_batch | llamacpp | replay
    model: str = "gpt-4o-mini"  # llamacpp: path of the GGUF file
    embedding_model: str = "text-embedding-3-small"  # llamacpp: GGUF path ("" reuses `model`)
    base_url: str | None = None  # openai: None is api.openai.com; e.g. http://localhost:8000/v1 for vLLM
    # openai: several OpenAI-compatible servers of the same model (e.g. vLLM replicas); requests are
    # spread over them, a failing one is marked down and probed back (see docs/scale.md)
    base_urls: tuple[str, ...] = ()
    endpoint_failures: int = 3  # consecutive failures that mark an endpoint down
    endpoint_probe_s: float = 5.0  # a down endpoint gets one probe request after this; doubles up to 8x
    api_key_env: str = "OPENAI_API_KEY"  # the NAME of the variable holding the key, never the key
    replay_path: str | None = None  # replay: JSONL of answers (see docs/llm.md)
    concurrency: int = 8  # requests in flight
    rpm: int = 0  # requests per minute (0: no limit)
    tpm: int = 0  # prompt + completion tokens per minute (0: no limit)
    timeout_s: float = 60.0  # per request
    max_retries: int = 5  # retries after the first attempt, on timeouts, 429, 5xx and broken replies
    backoff_base_s: float = 0.5  # first retry waits up to this, doubling each time (full jitter)
    backoff_max_s: float = 30.0
    temperature: float = 0.0
    max_tokens: int = 512
    embed_batch: int = 64  # texts per embeddings request
    prices: tuple[tuple[str, float, float], ...] = ()  # (model, USD per 1M prompt, per 1M completion tokens)
    cache_path: str = "runs/llm_cache.sqlite"
    # openai_batch: the Batch API (docs/scale.md); state kept in batch_dir ("" : the run's folder, or
    # beside the cache) so a restarted run polls its batches instead of submitting them again
    batch_dir: str = ""
    batch_poll_s: float = 30.0  # seconds between polls
    batch_wait_s: float = 90_000.0  # stop waiting after this (a rerun goes on polling)
    batch_window: str = "24h"  # the completion window asked for
    batch_max_requests: int = 50_000  # requests per batch file (the API's limit)
    batch_rounds: int = 2  # batches per request: an expired batch's unanswered requests go again
    # Ray Data (docs/scale.md): prompts of a stage answered by this many Ray workers (0: in this process)
    ray_workers: int = 0
    ray_batch: int = 64  # prompts per Ray task
    ray_address: str = ""  # "" starts a local Ray; "auto" joins this machine's cluster
    ray_store: str = ""  # folder every worker can reach, for answers as they arrive ("": beside the cache)
    n_ctx: int = 4096  # llamacpp: context window
    n_gpu_layers: int = 0  # llamacpp: layers offloaded to the GPU (-1: all)
    logits_all: bool = False  # llamacpp: keep every token's logits, so answers carry logprobs (costly)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"llm.backend: unknown backend {self.backend!r}; valid: {list(BACKENDS)}")
        if self.backend == "replay" and not self.replay_path:
            raise ConfigError("llm.replay_path: the replay backend needs a JSONL file")
        if self.base_urls and self.base_url:
            raise ConfigError(
                "llm.base_url and llm.base_urls are both set: give one server or a list of them"
            )
        _check_urls(self.base_urls)
        for name in ("concurrency", "max_tokens", "embed_batch", "endpoint_failures", "batch_max_requests",
                     "batch_rounds", "ray_batch"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ConfigError(f"llm.{name}: must be at least 1, got {getattr(self, name)}")
        for name in ("rpm", "tpm", "max_retries", "timeout_s", "backoff_base_s", "backoff_max_s",
                     "endpoint_probe_s", "batch_poll_s", "batch_wait_s", "ray_workers"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ConfigError(f"llm.{name}: must not be negative, got {getattr(self, name)}")

    def price(self, model: str) -> tuple[float, float]:
        """USD per 1M (prompt, completion) tokens of `model`; (0, 0) if the table does not list it."""
        for name, prompt, completion in self.prices:
            if name == model:
                return prompt, completion
        return 0.0, 0.0


def resolve_llm_config(cfg: LLMConfig, env: Mapping[str, str]) -> LLMConfig:
    """`cfg` with base URL and models taken from the environment where set there.

    The environment wins so one config file can be pointed at another server (or list of servers,
    `LLMREC_LLM_BASE_URLS`, which replaces both `base_url` and `base_urls`); the returned config is what
    the run uses and records. The API key is not copied: only its variable's name is kept.
    """
    if env.get(ENV_BASE_URL) and env.get(ENV_BASE_URLS):
        raise ConfigError(f"set {ENV_BASE_URL} or {ENV_BASE_URLS} in the environment, not both")
    sources = (("model", ENV_MODEL), ("embedding_model", ENV_EMBEDDING_MODEL))
    changes: dict[str, Any] = {field: env[var] for field, var in sources if env.get(var)}
    if env.get(ENV_BASE_URL):
        changes.update(base_url=env[ENV_BASE_URL], base_urls=())
    if env.get(ENV_BASE_URLS):
        urls = tuple(u for u in env[ENV_BASE_URLS].replace(",", " ").split() if u)
        changes.update(base_url=None, base_urls=urls)
    return dataclasses.replace(cfg, **changes) if changes else cfg


def _check_urls(urls: tuple[str, ...]) -> None:
    """Refuse an endpoint list with a duplicate or a URL that is not http(s)."""
    seen: set[str] = set()
    for n, url in enumerate(urls):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"llm.base_urls[{n}]: {url!r} is not an http(s) URL (e.g. http://host:8000/v1)")
        key = url.rstrip("/")
        if key in seen:
            raise ConfigError(f"llm.base_urls[{n}]: {url!r} is listed twice")
        seen.add(key)
