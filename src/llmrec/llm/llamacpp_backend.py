"""A local GGUF model through llama-cpp-python (the optional extra `llmrec[llamacpp]`).

The model runs in this process, one prompt at a time: llama.cpp already uses every core for one
prompt, and a `Llama` object is not safe to share between threads. Nothing is retried, because a
local failure does not pass by waiting.

Log-probabilities (the pointwise question mode scores P(yes) by them) need llama-cpp-python to keep
the logits of every prompt token (`llm.logits_all = true`: n_ctx x vocabulary floats, 2.5 GB for a
4,096-token context and Qwen's 152k-token vocabulary, and slower prompts). Without it a request that
asks for them is answered without them, and the pointwise mode scores the answer's text instead (and
says so: `no_logprobs`), rather than failing as llama-cpp-python would.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from typing import Any

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
from llmrec.llm.errors import BackendFailed, MissingDependency, RequestFailed, StageError
from llmrec.llm.wire import chat_from_json, usage_from_json, vectors_from_json


class LlamaCppBackend(Backend):
    """Chat completions and embeddings from GGUF files loaded with llama-cpp-python."""

    kind = "llamacpp"

    def __init__(self, cfg: LLMConfig) -> None:
        self.model = cfg.model  # path of the GGUF file
        self.embedding_model = cfg.embedding_model or cfg.model
        self.sampling = Sampling(cfg.temperature, cfg.max_tokens)
        self.n_ctx, self.n_gpu_layers = cfg.n_ctx, cfg.n_gpu_layers
        self.logits_all = cfg.logits_all
        self._loaded: dict[tuple[str, bool], Any] = {}

    def complete_batch(self, requests: Sequence[ChatRequest]) -> Iterator[Outcome[ChatResponse]]:
        """Answer the requests one after another."""
        for i, request in enumerate(requests):
            try:
                llama = self._llama(self.model, embedding=False)
            except StageError as exc:
                yield Outcome(i, exc, 0)
                return
            yield Outcome(i, self._chat(llama, self.resolved(request)))

    def embed_batch(self, requests: Sequence[EmbedRequest]) -> Iterator[Outcome[EmbedResponse]]:
        """Embed the texts one after another."""
        for i, request in enumerate(requests):
            try:
                llama = self._llama(self.embedding_model, embedding=True)
            except StageError as exc:
                yield Outcome(i, exc, 0)
                return
            yield Outcome(i, self._embed(llama, request.text))

    def _chat(self, llama: Any, request: ChatRequest) -> ChatResponse | RequestFailed:
        """One completion; a prompt the model refuses (too long for n_ctx, say) fails alone."""
        s = request.sampling
        assert s is not None
        try:
            data = llama.create_chat_completion(
                messages=request.message_dicts(),
                temperature=s.temperature,
                top_p=s.top_p,
                max_tokens=s.max_tokens,
                seed=s.seed,
                **(
                    {"logprobs": True, "top_logprobs": s.top_logprobs}
                    if s.top_logprobs and self.logits_all
                    else {}
                ),
            )
            return chat_from_json(data, self.model)
        except ValueError as exc:
            return RequestFailed(f"llama.cpp could not answer with {self.model}: {exc}")

    def _embed(self, llama: Any, text: str) -> EmbedResponse | RequestFailed:
        """One embedding, or the reason it failed."""
        try:
            data = llama.create_embedding(input=[text])
            (vector,) = vectors_from_json(data, 1)
        except ValueError as exc:
            return RequestFailed(f"llama.cpp could not embed with {self.embedding_model}: {exc}")
        return EmbedResponse(vector, Usage(usage_from_json(data).prompt_tokens, 0))

    def _llama(self, path: str, embedding: bool) -> Any:
        """The `Llama` for `path`, loaded once; MissingDependency or BackendFailed if it cannot be."""
        if (path, embedding) not in self._loaded:
            llama_cpp = import_llama_cpp()
            try:
                self._loaded[path, embedding] = llama_cpp.Llama(
                    model_path=path,
                    n_ctx=self.n_ctx,
                    n_gpu_layers=self.n_gpu_layers,
                    embedding=embedding,
                    logits_all=self.logits_all and not embedding,
                    verbose=False,
                )
            except (ValueError, OSError, RuntimeError) as exc:
                raise BackendFailed(f"llama.cpp cannot load the GGUF model {path}: {exc}") from None
        return self._loaded[path, embedding]


def import_llama_cpp() -> Any:
    """The llama_cpp module, imported on first use; MissingDependency naming the extra if absent."""
    try:
        return importlib.import_module("llama_cpp")
    except ImportError:
        raise MissingDependency("llama-cpp-python", "llamacpp") from None
