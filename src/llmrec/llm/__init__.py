"""LLM access layer: one protocol, three backends, a persistent cache, accounting and repair.

Stages get a `CachedLLM` from `open_llm` and call `complete_all` / `embed_all` (or the streaming
`complete_batch` / `embed_batch`). Only misses reach the backend; every answer is stored on arrival.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from llmrec.cache import Cache, cache_export, cache_stats
from llmrec.llm.accounting import Accounting, StageStats
from llmrec.llm.base import (
    Backend,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Message,
    Outcome,
    Sampling,
    Usage,
)
from llmrec.llm.cached import CachedLLM
from llmrec.llm.config import LLMConfig, resolve_llm_config
from llmrec.llm.errors import LLMError, RequestFailed, StageError
from llmrec.llm.repair import parse_with_repair, repair, repair_request


def make_backend(cfg: LLMConfig, env: Mapping[str, str]) -> Backend:
    """The backend `cfg.backend` names (over Ray workers with `cfg.ray_workers`); `env` supplies the API
    key under `cfg.api_key_env`."""
    backend = _plain_backend(cfg, env)
    if cfg.ray_workers > 0:
        from llmrec.llm.ray_backend import RayBackend

        return RayBackend(cfg, env, backend)
    return backend


def _plain_backend(cfg: LLMConfig, env: Mapping[str, str]) -> Backend:
    if cfg.backend == "openai" and cfg.base_urls:
        from llmrec.llm.endpoints import MultiEndpointBackend

        return MultiEndpointBackend(cfg, env.get(cfg.api_key_env))
    if cfg.backend == "openai":
        from llmrec.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(cfg, env.get(cfg.api_key_env))
    if cfg.backend == "openai_batch":
        from llmrec.llm.batch_backend import BatchAPIBackend

        return BatchAPIBackend(cfg, env.get(cfg.api_key_env))
    if cfg.backend == "llamacpp":
        from llmrec.llm.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(cfg)
    from llmrec.llm.replay_backend import ReplayBackend

    return ReplayBackend(cfg)  # LLMConfig admits no other backend name


def open_llm(
    cfg: LLMConfig,
    env: Mapping[str, str],
    stats: StageStats | None = None,
    on_progress: Callable[[StageStats], None] | None = None,
) -> CachedLLM:
    """The backend of `cfg` behind the cache at `cfg.cache_path`, counting into `stats`."""
    return CachedLLM(make_backend(cfg, env), Cache(cfg.cache_path), stats, on_progress)


__all__ = [
    "Accounting",
    "Backend",
    "Cache",
    "CachedLLM",
    "ChatRequest",
    "ChatResponse",
    "EmbedRequest",
    "EmbedResponse",
    "LLMConfig",
    "LLMError",
    "Message",
    "Outcome",
    "RequestFailed",
    "Sampling",
    "StageError",
    "StageStats",
    "Usage",
    "cache_export",
    "cache_stats",
    "make_backend",
    "open_llm",
    "parse_with_repair",
    "repair",
    "repair_request",
    "resolve_llm_config",
]
