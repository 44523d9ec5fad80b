"""LLMConfig: validation, prices, TOML round trip, environment resolution, backend choice."""

from __future__ import annotations

import dataclasses

import pytest

from llmrec.config import from_dict
from llmrec.errors import ConfigError
from llmrec.llm import LLMConfig, make_backend, resolve_llm_config
from llmrec.llm.llamacpp_backend import LlamaCppBackend
from llmrec.llm.openai_backend import OpenAIBackend
from llmrec.llm.replay_backend import ReplayBackend


def test_defaults_and_validation() -> None:
    cfg = LLMConfig()
    assert (cfg.backend, cfg.concurrency, cfg.api_key_env) == ("openai", 8, "OPENAI_API_KEY")
    with pytest.raises(
        ConfigError, match=r"unknown backend 'gpt'; valid: \['openai', 'openai_batch', 'llamacpp', 'replay'\]"
    ):
        LLMConfig(backend="gpt")
    with pytest.raises(ConfigError, match="llm.concurrency: must be at least 1"):
        LLMConfig(concurrency=0)
    with pytest.raises(ConfigError, match="llm.rpm: must not be negative"):
        LLMConfig(rpm=-1)
    with pytest.raises(ConfigError, match="replay backend needs a JSONL file"):
        LLMConfig(backend="replay")


def test_from_toml_table_with_price_table() -> None:
    cfg = from_dict(LLMConfig, {"model": "gpt-4o-mini", "prices": [["gpt-4o-mini", 0.15, 0.6]], "rpm": 500})
    assert cfg.prices == (("gpt-4o-mini", 0.15, 0.6),)
    assert cfg.price("gpt-4o-mini") == (0.15, 0.6) and cfg.price("other") == (0.0, 0.0)
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(LLMConfig, {"modle": "x"})


def test_environment_wins_and_key_is_never_copied() -> None:
    cfg = LLMConfig(model="from-file", base_url="http://file:1/v1")
    env = {
        "LLMREC_LLM_BASE_URL": "http://env:2/v1",
        "LLMREC_LLM_MODEL": "from-env",
        "OPENAI_API_KEY": "sk-secret",
    }
    resolved = resolve_llm_config(cfg, env)
    assert (resolved.base_url, resolved.model, resolved.embedding_model) == (
        "http://env:2/v1",
        "from-env",
        cfg.embedding_model,
    )
    assert "sk-secret" not in repr(resolved)
    assert resolve_llm_config(cfg, {}) == cfg
    assert resolve_llm_config(cfg, {"LLMREC_LLM_MODEL": ""}) == cfg  # empty means unset


def test_make_backend_picks_by_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(make_backend(LLMConfig(base_url="http://127.0.0.1:9/v1"), {}), OpenAIBackend)
    assert isinstance(make_backend(LLMConfig(backend="llamacpp", model="m.gguf"), {}), LlamaCppBackend)
    replay = dataclasses.replace(LLMConfig(), backend="replay", replay_path=str(tmp_path / "r.jsonl"))
    assert isinstance(make_backend(replay, {}), ReplayBackend)
