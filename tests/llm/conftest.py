"""Fixtures for the LLM layer: a fake OpenAI server on loopback and LLMs pointed at it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmrec.llm import Accounting, CachedLLM, LLMConfig, open_llm
from llmrec.llm.testing import FakeOpenAIServer

# Retries in tests wait milliseconds, not seconds, so the fault tests stay fast.
FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.02, "timeout_s": 2.0, "max_retries": 3}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    """A fresh fake server per test, serving the models 'chat-m' and 'embed-m'."""
    with FakeOpenAIServer(models={"chat-m", "embed-m"}) as fake:
        yield fake


@pytest.fixture
def config(server: FakeOpenAIServer, tmp_path: Path) -> LLMConfig:
    """An LLMConfig pointed at `server`, with a cache in `tmp_path` and fast retries."""
    return LLMConfig(
        base_url=server.url,
        model="chat-m",
        embedding_model="embed-m",
        cache_path=str(tmp_path / "cache.sqlite"),
        **FAST,
    )


@pytest.fixture
def make_llm(config: LLMConfig) -> Iterator[Callable[..., CachedLLM]]:
    """Build a CachedLLM from `config` with overrides; closes them all at the end."""
    opened: list[CachedLLM] = []

    def build(stage: str = "test", env: dict[str, str] | None = None, **changes: Any) -> CachedLLM:
        cfg = dataclasses.replace(config, **changes)
        llm = open_llm(cfg, env or {}, Accounting(cfg.prices).stage(stage))
        opened.append(llm)
        return llm

    yield build
    for llm in opened:
        llm.close()
