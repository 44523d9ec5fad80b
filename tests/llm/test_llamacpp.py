"""The llama.cpp backend without a model: the missing-extra message, and the calls with a fake module."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from llmrec.llm import ChatRequest, LLMConfig, RequestFailed, Sampling, make_backend
from llmrec.llm.errors import BackendFailed, MissingDependency


class FakeLlama:
    """Stands in for llama_cpp.Llama, answering in llama-cpp-python's OpenAI-shaped dicts."""

    instances: list[FakeLlama] = []

    def __init__(
        self, model_path: str, n_ctx: int, n_gpu_layers: int, embedding: bool, verbose: bool,
        logits_all: bool = False,
    ) -> None:  # fmt: skip
        if model_path.endswith("broken.gguf"):
            raise ValueError(f"Failed to load model from file: {model_path}")
        self.kwargs = {
            "model_path": model_path,
            "n_ctx": n_ctx,
            "n_gpu_layers": n_gpu_layers,
            "embedding": embedding,
        }
        self.logits_all = logits_all
        self.calls: list[dict[str, Any]] = []
        FakeLlama.instances.append(self)

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        content = kwargs["messages"][-1]["content"]
        if content == "too long":
            raise ValueError("Requested tokens (9000) exceed context window of 4096")
        choice: dict[str, Any] = {
            "message": {"role": "assistant", "content": content.upper()}, "finish_reason": "stop"
        }  # fmt: skip
        if kwargs.get("logprobs"):
            if not self.logits_all:  # what llama-cpp-python 0.3 does
                raise ValueError("logprobs is not supported for models created with logits_all=False")
            top = [{"token": "Yes", "logprob": -0.2}, {"token": "No", "logprob": -1.7}]
            choice["logprobs"] = {"content": [{"token": "Yes", "logprob": -0.2, "top_logprobs": top}]}
        return {"choices": [choice], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}

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


def test_logprobs_only_from_a_model_that_keeps_them(fake_llama_cpp: type[FakeLlama]) -> None:
    """A pointwise question asks for logprobs; llama-cpp-python refuses them unless the model keeps every
    token's logits. Without `logits_all` the answer comes without them (the text is scored instead),
    never as a failure; with it the model is loaded so and the answer carries them."""
    import dataclasses

    asks = ChatRequest.of("yes?", sampling=Sampling(0.0, 4, top_logprobs=5))
    plain = make_backend(cfg(), {}).complete(asks)
    assert plain.text == "YES?" and plain.first_token_logprobs == ()
    assert "logprobs" not in fake_llama_cpp.instances[0].calls[0]
    keeps = make_backend(dataclasses.replace(cfg(), logits_all=True), {}).complete(asks)
    assert fake_llama_cpp.instances[1].logits_all is True
    assert keeps.first_token_logprobs == (("Yes", -0.2), ("No", -1.7))
