"""The replay backend: answers from an export or a hand-written JSONL, with misses counted."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from llmrec.cache import cache_export
from llmrec.llm import CachedLLM, ChatRequest, EmbedRequest, LLMConfig, make_backend, open_llm
from llmrec.llm.errors import BackendFailed, ReplayMiss
from llmrec.llm.testing import FakeOpenAIServer, fake_vector

Make = Callable[..., CachedLLM]


def replay_llm(config: LLMConfig, path: Path, tmp_path: Path) -> CachedLLM:
    cfg = dataclasses.replace(
        config,
        backend="replay",
        replay_path=str(path),
        base_url=None,
        cache_path=str(tmp_path / "replay-cache.sqlite"),
    )
    return open_llm(cfg, {})


def test_export_of_one_machine_replays_on_another(
    server: FakeOpenAIServer, make_llm: Make, config: LLMConfig, tmp_path: Path
) -> None:
    requests = [ChatRequest.of(f"q{i}", template="t/v1") for i in range(5)]
    original = make_llm().complete_all(requests)
    make_llm().embed_all([EmbedRequest("some text")])
    exported = tmp_path / "export.jsonl"
    assert cache_export(config.cache_path, exported) == 6
    server.stop()  # nothing may be asked any more

    llm = replay_llm(config, exported, tmp_path)
    replayed = llm.complete_all(requests)
    assert [r.text for r in replayed] == [r.text for r in original]  # type: ignore[union-attr]
    assert llm.embed("some text").vector == tuple(fake_vector("some text", server.embed_dim))
    assert (llm.stats.answered, llm.stats.requests, llm.stats.prompt_tokens) == (6, 0, 0)
    assert llm.kind == "replay"
    llm.close()


def test_hand_written_lines_and_misses(config: LLMConfig, tmp_path: Path) -> None:
    path = tmp_path / "released.jsonl"
    lines = [
        {"messages": [{"role": "user", "content": "Which items fit user 3?"}], "response": "12, 40"},
        {
            "messages": [{"role": "user", "content": "Describe item 7"}],
            "response": {"text": "A film.", "finish_reason": "stop", "usage": {"prompt_tokens": 9}},
        },
        {"input": "item 7: a film", "embedding": [0.5, -0.5]},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    llm = replay_llm(config, path, tmp_path)
    results = llm.complete_all(
        [
            ChatRequest.of("Which items fit user 3?"),
            ChatRequest.of("Describe item 7"),
            ChatRequest.of("never asked"),
        ]
    )
    assert results[0].text == "12, 40" and results[1].text == "A film."  # type: ignore[union-attr]
    assert isinstance(results[2], ReplayMiss) and "never asked" in str(results[2])
    assert llm.embed("item 7: a film").vector == (0.5, -0.5)
    assert (llm.stats.answered, llm.stats.failures, llm.stats.prompt_tokens) == (3, 1, 0)
    llm.close()


def test_key_only_line_matches_the_exported_key(
    server: FakeOpenAIServer, make_llm: Make, config: LLMConfig, tmp_path: Path
) -> None:
    request = ChatRequest.of("keyed", template="t/v1")
    key = make_llm().chat_key(request)
    path = tmp_path / "keys.jsonl"
    path.write_text(json.dumps({"key": key, "response": "from the key"}) + "\n")
    llm = replay_llm(config, path, tmp_path)
    assert llm.complete(request).text == "from the key"
    assert server.requests == 0
    llm.close()


def test_malformed_file_stops_the_stage_with_file_and_line(config: LLMConfig, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"messages": [], "response": "ok"}) + "\n" + json.dumps({"response": "x"}) + "\n"
    )
    backend = make_backend(dataclasses.replace(config, backend="replay", replay_path=str(path)), {})
    with pytest.raises(BackendFailed, match=r"bad.jsonl:2: not a replay line \(no prompt"):
        backend.complete("hi")
    missing = make_backend(
        dataclasses.replace(config, backend="replay", replay_path=str(tmp_path / "no")), {}
    )
    with pytest.raises(BackendFailed, match="cannot read replay file"):
        missing.complete("hi")
