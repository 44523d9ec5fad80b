"""Requests, responses and the backend protocol: one batch method per operation, the rest derived.

A backend answers a batch as a stream of `Outcome`s in completion order, so a caller can persist
each answer the moment it arrives. An outcome holds either the response or the error for that item.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from llmrec.llm.errors import LLMError, RequestFailed, StageError

R = TypeVar("R")


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class Sampling:
    """Decoding parameters; part of the cache key."""

    temperature: float
    max_tokens: int
    top_p: float = 1.0
    seed: int | None = None
    top_logprobs: int = 0  # >0: ask for this many alternatives of each answer token (OpenAI `logprobs`)


@dataclass(frozen=True)
class ChatRequest:
    """A chat completion to ask for; `template` is the prompt template's name and version."""

    messages: tuple[Message, ...]
    template: str = ""  # e.g. "augment.edges/v2": bump it and every prompt is asked afresh
    sampling: Sampling | None = None  # None: the backend's defaults (from LLMConfig)

    @classmethod
    def of(
        cls, messages: Sequence[Mapping[str, str]] | str, template: str = "", sampling: Sampling | None = None
    ) -> ChatRequest:
        """Build from OpenAI-style message dicts, or from one user prompt."""
        turns: tuple[Message, ...]
        if isinstance(messages, str):
            turns = (Message("user", messages),)
        else:
            turns = tuple(Message(m["role"], m["content"]) for m in messages)
        return cls(turns, template, sampling)

    def message_dicts(self) -> list[dict[str, str]]:
        """Messages in the OpenAI JSON shape."""
        return [{"role": m.role, "content": m.content} for m in self.messages]


@dataclass(frozen=True)
class EmbedRequest:
    """A text to embed; `template` versions how the text was built."""

    text: str
    template: str = ""


@dataclass(frozen=True)
class Usage:
    """Tokens billed for one answer."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        """Plain-data form."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


@dataclass(frozen=True)
class ChatResponse:
    """A chat completion as received."""

    text: str
    finish_reason: str = "stop"
    usage: Usage = Usage()
    model: str = ""  # as reported by the server
    # the first answer token's alternatives as (token, log-probability), most likely first; () when not
    # asked for or when the server does not return logprobs
    first_token_logprobs: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as stored in the cache (logprobs only when there are some). Written out
        rather than `dataclasses.asdict`, whose deep copies cost more than the HTTP call's parsing."""
        data: dict[str, Any] = {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "usage": self.usage.to_dict(),
            "model": self.model,
        }
        if self.first_token_logprobs:  # absent otherwise, so answers without them are stored as before
            data["first_token_logprobs"] = [list(pair) for pair in self.first_token_logprobs]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatResponse:
        """Inverse of `to_dict`."""
        return cls(
            data["text"],
            data.get("finish_reason", "stop"),
            Usage(**data.get("usage", {})),
            data.get("model", ""),
            tuple((str(t), float(lp)) for t, lp in data.get("first_token_logprobs", ())),
        )


@dataclass(frozen=True)
class EmbedResponse:
    """An embedding as received."""

    vector: tuple[float, ...]
    usage: Usage = Usage()

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as stored in the cache."""
        return {"vector": list(self.vector), "usage": self.usage.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmbedResponse:
        """Inverse of `to_dict`."""
        return cls(tuple(data["vector"]), Usage(**data.get("usage", {})))


@dataclass(frozen=True, slots=True)
class Outcome(Generic[R]):
    """What became of item `index` of a batch, and how many requests it took (0: none sent)."""

    index: int
    result: R | LLMError
    attempts: int = 1
    # another outcome follows at once, without waiting on a server (outcomes that arrived together):
    # the cache may store them in one transaction before any of them is yielded on
    more: bool = False


class Backend(ABC):
    """Answers batches of chat and embedding requests; subclasses implement the two batch methods."""

    kind: str = ""  # backend name, part of the cache key
    model: str = ""
    embedding_model: str = ""
    sampling: Sampling  # defaults for requests without their own, set from LLMConfig by each backend

    @abstractmethod
    def complete_batch(self, requests: Sequence[ChatRequest]) -> Iterator[Outcome[ChatResponse]]:
        """Answer every request, yielding outcomes as they arrive; stop sending after a StageError."""

    @abstractmethod
    def embed_batch(self, requests: Sequence[EmbedRequest]) -> Iterator[Outcome[EmbedResponse]]:
        """Embed every text, yielding outcomes as they arrive; stop sending after a StageError."""

    def endpoint_report(self) -> list[dict[str, Any]]:
        """Per-server counters and health, for backends that spread over several servers; else []."""
        return []

    def resolved(self, request: ChatRequest) -> ChatRequest:
        """`request` with this backend's default sampling filled in."""
        if request.sampling is not None:
            return request
        return dataclasses.replace(request, sampling=self.sampling)

    def complete_all(self, requests: Sequence[ChatRequest]) -> list[ChatResponse | RequestFailed]:
        """Responses in input order, a RequestFailed where an item failed; raises a StageError."""
        return _collect(self.complete_batch(requests), len(requests))

    def embed_all(self, requests: Sequence[EmbedRequest]) -> list[EmbedResponse | RequestFailed]:
        """Embeddings in input order, a RequestFailed where an item failed; raises a StageError."""
        return _collect(self.embed_batch(requests), len(requests))

    def complete(self, request: ChatRequest | str) -> ChatResponse:
        """Answer one request (a string is a single user message); raises on failure."""
        if isinstance(request, str):
            request = ChatRequest.of(request)
        return _single(self.complete_all([request]))

    def embed(self, request: EmbedRequest | str) -> EmbedResponse:
        """Embed one text; raises on failure."""
        if isinstance(request, str):
            request = EmbedRequest(request)
        return _single(self.embed_all([request]))


def chat_payload(kind: str, model: str, request: ChatRequest) -> dict[str, Any]:
    """Everything that decides a chat answer; the cache key is its hash and it is stored beside the answer."""
    if request.sampling is None:
        raise ValueError("chat_payload needs a request with sampling filled in (Backend.resolved)")
    return {
        "op": "chat",
        "backend": kind,
        "model": model,
        "template": request.template,
        "sampling": _sampling_key(request.sampling),
        "messages": request.message_dicts(),
    }


def _sampling_key(sampling: Sampling) -> dict[str, Any]:
    """The sampling fields of a cache key; `top_logprobs` only when asked, so older keys stay valid."""
    fields = {
        "temperature": sampling.temperature, "max_tokens": sampling.max_tokens, "top_p": sampling.top_p,
        "seed": sampling.seed, "top_logprobs": sampling.top_logprobs,
    }  # fmt: skip
    if not fields["top_logprobs"]:
        del fields["top_logprobs"]
    return fields


def embed_payload(kind: str, model: str, request: EmbedRequest) -> dict[str, Any]:
    """Everything that decides an embedding; the cache key is its hash."""
    return {
        "op": "embed",
        "backend": kind,
        "model": model,
        "template": request.template,
        "input": request.text,
    }


def _collect(outcomes: Iterator[Outcome[R]], n: int) -> list[R | RequestFailed]:
    """Place outcomes by index; after draining the stream, raise the first StageError seen."""
    results: list[R | RequestFailed | None] = [None] * n
    stage_error: StageError | None = None
    for outcome in outcomes:
        if isinstance(outcome.result, StageError):
            stage_error = stage_error or outcome.result
        else:
            results[outcome.index] = outcome.result  # type: ignore[assignment]
    if stage_error is not None:
        raise stage_error
    return results  # type: ignore[return-value]


def _single(results: list[R | RequestFailed]) -> R:
    """The one result of a batch of one, raising it if it is an error."""
    (result,) = results
    if isinstance(result, LLMError):
        raise result
    return result
