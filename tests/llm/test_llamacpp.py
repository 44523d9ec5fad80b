"""The llama.cpp backend without a model: the missing-extra message, and the calls with a fake module."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from llmrec.llm import ChatRequest, LLMConfig, RequestFailed, make_backend
from llmrec.llm.errors import BackendFailed, MissingDependency


class FakeLlama:
    """Stands in for llama_cpp.Llama, answering in llama-cpp-python's OpenAI-shaped dicts."""

    instances: list[FakeLlama] = []

    def __init__(
        self, model_path: str, n_ctx: int, n_gpu_layers: int, embedding: bool, verbose: bool
    ) -> None:
        if model_path.endswith("broken.gguf"):
            raise ValueError(f"Failed to load model from file: {model_path}")
        self.kwargs = {
            "model_path": model_path,
            "n_ctx": n_ctx,
            "n_gpu_layers": n_gpu_layers,
            "embedding": embedding,
        }
        self.calls: list[dict[str, Any]] = []
        FakeLlama.instances.append(self)

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        content = kwargs["messages"][-1]["content"]
        if content == "too long":
            raise ValueError("Requested tokens (9000) exceed context window of 4096")
        return {
            "choices": [
                {"message": {"role": "assistant", "content": content.upper()}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1},
        }

    def create_embedding(self, input: list[str]) -> dict[str, Any]:
        return {"data": [{"index": 0, "embedding": [1.0, 2.0]}], "usage": {"prompt_tokens": 3}}


@pytest.fixture
def fake_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> type[FakeLlama]:
    module = types.ModuleType("llama_cpp")
    module.Llama = FakeLlama  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llama_cpp", module)
    FakeLlama.instances = []
    return FakeLlama


def cfg(model: str = "/models/q4.gguf") -> LLMConfig:
    return LLMConfig(
        backend="llamacpp",
        model=model,
        embedding_model="",
        temperature=0.2,
        max_tokens=64,
        n_ctx=2048,
        n_gpu_layers=-1,
    )


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes the import fail
    backend = make_backend(cfg(), {})
    with pytest.raises(MissingDependency) as err:
        backend.complete("hi")
    assert str(err.value) == "this backend needs llama-cpp-python: pip install 'llmrec[llamacpp]'"


def test_chat_and_embed_through_the_fake(fake_llama_cpp: type[FakeLlama]) -> None:
    backend = make_backend(cfg(), {})
    results = backend.complete_all(
        [ChatRequest.of("hello"), ChatRequest.of("too long"), ChatRequest.of("bye")]
    )
    assert results[0].text == "HELLO" and results[2].text == "BYE"  # type: ignore[union-attr]
    assert results[0].usage.prompt_tokens == 5  # type: ignore[union-attr]
    assert isinstance(results[1], RequestFailed) and "exceed context window" in str(results[1])
    (chat,) = fake_llama_cpp.instances  # loaded once
    assert chat.kwargs == {
        "model_path": "/models/q4.gguf",
        "n_ctx": 2048,
        "n_gpu_layers": -1,
        "embedding": False,
    }
    assert chat.calls[0]["temperature"] == 0.2 and chat.calls[0]["max_tokens"] == 64
    assert backend.embed("text").vector == (1.0, 2.0)
    assert fake_llama_cpp.instances[1].kwargs["embedding"] is True  # same file, loaded for embeddings


def test_unloadable_model_stops_the_stage(fake_llama_cpp: type[FakeLlama]) -> None:
    with pytest.raises(BackendFailed, match="cannot load the GGUF model /m/broken.gguf"):
        make_backend(cfg("/m/broken.gguf"), {}).complete("hi")
