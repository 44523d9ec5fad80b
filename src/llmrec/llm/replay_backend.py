"""Answers read from JSONL: released augmentation files, or another machine's `llmrec cache export`.

A line pairs a prompt with its answer. The prompt is given by `messages` (chat), `input` (embedding),
or `key` (a cache key); an exported line carries them in `meta`. The answer is `response` (text or a
response object), `value` (as exported) or `embedding` (a list of floats). See docs/llm.md.
Prompts are matched by their messages or text alone, so answers made with any model or sampling
settings can be reused; a prompt not in the file is a `ReplayMiss`, counted as a failure.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from llmrec.cache import content_key
from llmrec.llm.base import (
    Backend,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Outcome,
    Sampling,
    Usage,
    chat_payload,
    embed_payload,
)
from llmrec.llm.config import LLMConfig
from llmrec.llm.errors import BackendFailed, ReplayMiss

SOURCE_KINDS = ("openai", "llamacpp")  # backends whose exported keys a `key`-only line may carry


class ReplayBackend(Backend):
    """Answers looked up in a JSONL file; sends nothing anywhere."""

    kind = "replay"

    def __init__(self, cfg: LLMConfig) -> None:
        assert cfg.replay_path is not None  # LLMConfig checks this for the replay backend
        self.path = cfg.replay_path
        self.model, self.embedding_model = cfg.model, cfg.embedding_model
        self.sampling = Sampling(cfg.temperature, cfg.max_tokens)

    @cached_property
    def _index(self) -> dict[str, ChatResponse | EmbedResponse]:
        """The file's answers by key, read on first use (a fully cached rerun never opens it)."""
        return load_replay(self.path)

    def complete_batch(self, requests: Sequence[ChatRequest]) -> Iterator[Outcome[ChatResponse]]:
        """Each request's recorded answer, or a ReplayMiss."""
        yield from self._lookup(requests, self._chat_keys, ChatResponse)

    def embed_batch(self, requests: Sequence[EmbedRequest]) -> Iterator[Outcome[EmbedResponse]]:
        """Each text's recorded embedding, or a ReplayMiss."""
        yield from self._lookup(requests, self._embed_keys, EmbedResponse)

    def _lookup(
        self, requests: Sequence[Any], keys_of: Callable[[Any], list[str]], kind: type
    ) -> Iterator[Outcome[Any]]:
        """Yield the first recorded answer of the right kind under any of a request's keys."""
        try:
            index = self._index
        except BackendFailed as exc:
            if requests:
                yield Outcome(0, exc, 0)
            return
        for i, request in enumerate(requests):
            found = next((index[k] for k in keys_of(request) if isinstance(index.get(k), kind)), None)
            yield Outcome(i, found if found is not None else ReplayMiss(self.path, _describe(request)), 0)

    def _chat_keys(self, request: ChatRequest) -> list[str]:
        """Keys a recorded answer to `request` may be filed under: exported cache keys, then messages."""
        resolved = self.resolved(request)
        keys = [content_key(chat_payload(kind, self.model, resolved)) for kind in SOURCE_KINDS]
        return [*keys, messages_key(request.message_dicts())]

    def _embed_keys(self, request: EmbedRequest) -> list[str]:
        """Keys a recorded embedding of `request` may be filed under."""
        keys = [content_key(embed_payload(kind, self.embedding_model, request)) for kind in SOURCE_KINDS]
        return [*keys, text_key(request.text)]


def messages_key(messages: Sequence[Mapping[str, str]]) -> str:
    """Replay key of a conversation: its roles and contents only."""
    return content_key(["chat", [[m["role"], m["content"]] for m in messages]])


def text_key(text: str) -> str:
    """Replay key of a text to embed."""
    return content_key(["embed", text])


def load_replay(path: str | Path) -> dict[str, ChatResponse | EmbedResponse]:
    """Index a replay JSONL file by every key its lines can be found under; BackendFailed if unreadable."""
    index: dict[str, ChatResponse | EmbedResponse] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BackendFailed(f"cannot read replay file {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            keys, answer = parse_replay_line(json.loads(line))
        except (ValueError, TypeError, KeyError) as exc:
            raise BackendFailed(f"{path}:{number}: not a replay line ({exc})") from None
        for key in keys:
            index.setdefault(key, answer)  # the first line for a prompt wins, as in the cache
    return index


def parse_replay_line(line: Mapping[str, Any]) -> tuple[list[str], ChatResponse | EmbedResponse]:
    """The keys and the answer of one replay line (see the module docstring for the shapes)."""
    if not isinstance(line, Mapping):
        raise ValueError("a line must be a JSON object")
    meta = line.get("meta") or {}
    messages = line.get("messages", meta.get("messages"))
    text = line.get("input", meta.get("input"))
    value = line.get("response", line.get("value"))
    if "embedding" in line:
        value = {"vector": line["embedding"]}
    keys = [str(line["key"])] if "key" in line else []
    answer: ChatResponse | EmbedResponse
    if isinstance(value, str) or (isinstance(value, Mapping) and "text" in value):
        answer = ChatResponse(value) if isinstance(value, str) else ChatResponse.from_dict(value)
        if messages is not None:
            keys.append(messages_key(messages))
    elif isinstance(value, list) or (isinstance(value, Mapping) and "vector" in value):
        vector = value if isinstance(value, list) else value["vector"]
        answer = EmbedResponse(tuple(float(x) for x in vector))
        if text is not None:
            keys.append(text_key(str(text)))
    else:
        raise ValueError("no answer: expected 'response' (text or object), 'value' or 'embedding'")
    if not keys:
        raise ValueError("no prompt: expected 'messages', 'input' or 'key'")
    # Nothing is billed when replaying, so the recorded usage is not carried over.
    return keys, dataclasses.replace(answer, usage=Usage())


def _describe(request: ChatRequest | EmbedRequest) -> str:
    """A short description of a prompt for a miss message."""
    if isinstance(request, EmbedRequest):
        return f"text {request.text!r}"
    return f"messages ending {request.messages[-1].content!r}" if request.messages else "empty messages"
