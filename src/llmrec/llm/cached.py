"""A backend behind the persistent cache: hits are answered locally, only misses are sent.

Each answer is written to the cache the moment it arrives, before it is yielded to anyone who
could parse it, so a crash after that point never pays for it twice. Answers that arrive together
(the backend marks all but the last of them `more`) are written in one transaction before the first
of them is yielded: nothing received is ever held across a wait on a server, so the guarantee is the
same, at one commit per group instead of one per answer. Identical prompts within a batch are sent
once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from llmrec.cache import Cache, content_key
from llmrec.llm.accounting import StageStats
from llmrec.llm.base import (
    Backend,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Outcome,
    chat_payload,
    embed_payload,
)
from llmrec.llm.errors import StageError

Q = TypeVar("Q")
R = TypeVar("R", ChatResponse, EmbedResponse)


class CachedLLM(Backend):
    """`backend` with a cache in front and per-stage accounting; the object stages talk to."""

    def __init__(
        self,
        backend: Backend,
        cache: Cache,
        stats: StageStats | None = None,
        on_progress: Callable[[StageStats], None] | None = None,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.stats = stats if stats is not None else StageStats("llm")
        self.on_progress = on_progress  # e.g. a progress bar's set_postfix_str(stats.progress_text())
        self.kind, self.model = backend.kind, backend.model
        self.embedding_model, self.sampling = backend.embedding_model, backend.sampling

    def chat_key(self, request: ChatRequest) -> str:
        """Cache key of a chat request: hash of backend, model, sampling, template and messages."""
        return content_key(chat_payload(self.kind, self.model, self.resolved(request)))

    def embed_key(self, request: EmbedRequest) -> str:
        """Cache key of an embedding request."""
        return content_key(embed_payload(self.kind, self.embedding_model, request))

    def complete_batch(self, requests: Sequence[ChatRequest]) -> Iterator[Outcome[ChatResponse]]:
        """Cached answers first, then the backend's answers to the misses as they arrive."""
        resolved = [self.resolved(r) for r in requests]
        payloads = [chat_payload(self.kind, self.model, r) for r in resolved]
        return self._run(resolved, payloads, self.backend.complete_batch, ChatResponse.from_dict, self.model)

    def embed_batch(self, requests: Sequence[EmbedRequest]) -> Iterator[Outcome[EmbedResponse]]:
        """Cached embeddings first, then the backend's for the misses as they arrive."""
        payloads = [embed_payload(self.kind, self.embedding_model, r) for r in requests]
        return self._run(
            list(requests), payloads, self.backend.embed_batch, EmbedResponse.from_dict, self.embedding_model
        )

    def endpoint_report(self) -> list[dict[str, Any]]:
        """The backend's per-server counters (empty for a single server)."""
        return self.backend.endpoint_report()

    def close(self) -> None:
        """Close the cache."""
        self.cache.close()

    def _run(
        self,
        requests: list[Q],
        payloads: list[dict[str, Any]],
        send: Callable[[Sequence[Q]], Iterator[Outcome[R]]],
        decode: Callable[[dict[str, Any]], R],
        model: str,
    ) -> Iterator[Outcome[R]]:
        """Answer from the cache, send the misses, store each answer on arrival, count everything."""
        stats = self.stats
        stats.count_items(len(requests))
        keys = [content_key(p) for p in payloads]
        found = self.cache.get_many(keys)
        waiting: dict[str, list[int]] = {}  # key of a miss -> every index asking for it
        for i, key in enumerate(keys):
            if key in found:
                stats.count_hits(1)
                yield Outcome(i, decode(found[key]), 0)
            else:
                waiting.setdefault(key, []).append(i)
        duplicates = sum(len(ix) - 1 for ix in waiting.values())
        stats.count_hits(duplicates)
        self._report()
        misses = [ix[0] for ix in waiting.values()]
        if not misses:
            return  # no backend call at all: starting its thread pool would cost more than the lookup
        stage_error: tuple[int, StageError] | None = None
        group: list[Outcome[R]] = []  # outcomes that arrived together, not yet yielded
        rows: list[tuple[str, Any, Any]] = []  # their answers, not yet stored

        def store() -> None:
            if rows:
                self.cache.put_many(rows, stage=stats.name)
                rows.clear()

        def release() -> Iterator[Outcome[R]]:
            """The stored group's answers, to every index asking for them; a StageError is held until
            the answers in flight are stored."""
            nonlocal stage_error
            for done in group:
                first = misses[done.index]
                if isinstance(done.result, StageError):
                    stage_error = stage_error or (first, done.result)
                else:
                    for i in waiting[keys[first]]:
                        yield Outcome(i, done.result, done.attempts if i == first else 0)
            group.clear()

        try:
            for outcome in send([requests[i] for i in misses]):
                first = misses[outcome.index]
                result = outcome.result
                if isinstance(result, ChatResponse | EmbedResponse):
                    rows.append((keys[first], result.to_dict(), payloads[first]))
                    stats.count_answer(model, result.usage, outcome.attempts)
                else:
                    stats.count_failure(outcome.attempts)
                group.append(outcome)
                if outcome.more:
                    continue
                store()
                yield from release()
                self._report()
        finally:
            store()  # a backend that stopped mid-group (or an interrupt): keep what was received
        yield from release()  # a group the backend left open: stored by now
        if stage_error is not None:
            index, error = stage_error
            stored = stats.cache_hits + stats.answered
            error.progress = (
                f" [stage {stats.name}: {stored} of {stats.items} answers are cached;"
                " run again to continue from there]"
            )
            yield Outcome(index, error, 0)

    def _report(self) -> None:
        """Tell the progress display that the counters moved."""
        if self.on_progress is not None:
            self.on_progress(self.stats)
