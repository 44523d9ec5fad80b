"""`LLMConfig`: which backend and model to use, and how hard to push it. Defaults live here, once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmrec.errors import ConfigError

BACKENDS = ("openai", "llamacpp", "replay")
ENV_BASE_URL = "LLMREC_LLM_BASE_URL"
ENV_MODEL = "LLMREC_LLM_MODEL"
ENV_EMBEDDING_MODEL = "LLMREC_LLM_EMBEDDING_MODEL"


@dataclass(frozen=True)
class LLMConfig:
    """Backend, model, request policy, sampling defaults, prices and cache location."""

    backend: str = "openai"  # openai | llamacpp | replay
    model: str = "gpt-4o-mini"  # llamacpp: path of the GGUF file
    embedding_model: str = "text-embedding-3-small"  # llamacpp: GGUF path ("" reuses `model`)
    base_url: str | None = None  # openai: None is api.openai.com; e.g. http://localhost:8000/v1 for vLLM
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
    n_ctx: int = 4096  # llamacpp: context window
    n_gpu_layers: int = 0  # llamacpp: layers offloaded to the GPU (-1: all)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"llm.backend: unknown backend {self.backend!r}; valid: {list(BACKENDS)}")
        if self.backend == "replay" and not self.replay_path:
            raise ConfigError("llm.replay_path: the replay backend needs a JSONL file")
        for name in ("concurrency", "max_tokens", "embed_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"llm.{name}: must be at least 1, got {getattr(self, name)}")
        for name in ("rpm", "tpm", "max_retries", "timeout_s", "backoff_base_s", "backoff_max_s"):
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

    The environment wins so one config file can be pointed at another server; the returned
    config is what the run uses and records. The API key is not copied: only its variable's name is kept.
    """
    sources = (("base_url", ENV_BASE_URL), ("model", ENV_MODEL), ("embedding_model", ENV_EMBEDDING_MODEL))
    changes: dict[str, Any] = {field: env[var] for field, var in sources if env.get(var)}
    return dataclasses.replace(cfg, **changes) if changes else cfg
