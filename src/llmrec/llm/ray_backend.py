"""A stage's prompts as a Ray dataset: workers across a cluster call the LLM layer, the driver caches.

With `[llm] ray_workers = N`, `make_backend` wraps the configured backend (openai, a list of endpoints,
llamacpp...) in `RayBackend`. Its `complete_batch` turns the prompts the cache did not have into a Ray
Data dataset, and `map_batches` runs `answer_rows` on up to N workers; each worker builds the backend
from the config and sends its batch under the usual policy (concurrency, retries, rate limits per
worker). Every answer is written, as it arrives, to the worker's own SQLite file under `ray_store`, a
folder all workers can reach (a shared filesystem on a cluster); the rows come back to the driver,
which yields them to `CachedLLM`, which stores them in the run's cache as usual.

A worker that dies loses nothing it was answered: Ray Data runs its batch again, and the new
attempt first looks in every file of the store, so a prompt answered before the crash is not asked
again. Cache keys are those of the wrapped backend, so answers are interchangeable with a
single-process run's. Embeddings are not distributed (they are cheap): they go to the wrapped backend.

Ray is an optional extra (`pip install 'llmrec[ray]'`), imported on first use. `ray_address` "" starts
a local Ray on this machine; "auto" joins the cluster this machine belongs to.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.cache import Cache, content_key
from llmrec.llm.base import (
    Backend,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Message,
    Outcome,
    Sampling,
    chat_payload,
)
from llmrec.llm.config import LLMConfig
from llmrec.llm.errors import MissingDependency, RequestFailed, StageError


class RayBackend(Backend):
    """`inner`'s chat completions computed by Ray workers; embeddings by `inner` itself."""

    def __init__(self, cfg: LLMConfig, env: Mapping[str, str], inner: Backend) -> None:
        self.cfg = dataclasses.replace(cfg, ray_workers=0)  # what each worker builds: the plain backend
        self.env = {
            k: v for k, v in env.items() if k.startswith(("LLMREC_", "OPENAI_")) or k == cfg.api_key_env
        }
        self.inner = inner
        self.kind, self.model = inner.kind, inner.model
        self.embedding_model, self.sampling = inner.embedding_model, inner.sampling
        self.workers, self.batch, self.address = cfg.ray_workers, cfg.ray_batch, cfg.ray_address
        self.store = Path(cfg.ray_store or Path(cfg.cache_path).parent / "ray_store")
        self.die_after = 0  # tests only: the first attempt of a batch exits after this many answers

    def embed_batch(self, requests: Sequence[EmbedRequest]) -> Iterator[Outcome[EmbedResponse]]:
        """Embeddings from the wrapped backend, in this process."""
        return self.inner.embed_batch(requests)

    def endpoint_report(self) -> list[dict[str, Any]]:
        return self.inner.endpoint_report()

    def complete_batch(self, requests: Sequence[ChatRequest]) -> Iterator[Outcome[ChatResponse]]:
        """Every request answered by the Ray workers; outcomes as their batches come back."""
        if not requests:
            return
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=self.address or None, include_dashboard=False, log_to_driver=False)
        self.store.mkdir(parents=True, exist_ok=True)
        rows = [_to_row(i, self.resolved(r), self.kind, self.model) for i, r in enumerate(requests)]
        dataset = ray.data.from_items(rows)
        answered = dataset.map_batches(
            answer_rows,
            batch_size=self.batch,
            concurrency=self.workers,
            fn_kwargs={
                "cfg": self.cfg,
                "env": self.env,
                "store": str(self.store),
                "die_after": self.die_after,
            },
        )  # a task whose worker dies is run again by Ray Data (3 retries by default)
        stage_error: tuple[int, StageError] | None = None
        for row in answered.iter_rows():
            index, attempts = int(row["index"]), int(row["attempts"])
            if row["error"]:
                error: RequestFailed | StageError = (
                    StageError(row["error"]) if row["fatal"] else RequestFailed(row["error"])
                )
                if isinstance(error, StageError):
                    stage_error = stage_error or (index, error)
                    continue
                yield Outcome(index, error, attempts)
            else:
                yield Outcome(index, ChatResponse.from_dict(json.loads(row["value"])), attempts)
        if stage_error is not None:
            yield Outcome(stage_error[0], stage_error[1], 0)


def answer_rows(
    batch: dict[str, np.ndarray], cfg: LLMConfig, env: dict[str, str], store: str, die_after: int = 0
) -> dict[str, np.ndarray]:
    """A Ray worker's batch: answers from the store where an earlier attempt left them, the rest from
    the backend, each stored in this attempt's own file the moment it arrives."""
    from llmrec.llm import make_backend

    folder = Path(store)
    keys = [str(k) for k in batch["key"]]
    found: dict[str, Any] = {}
    for path in sorted(folder.glob("*.sqlite")):
        shard = Cache(path, create=False)
        try:
            found.update(shard.get_many(k for k in keys if k not in found))
        finally:
            shard.close()
    out: dict[str, list[Any]] = {"index": [], "value": [], "error": [], "fatal": [], "attempts": []}

    def emit(i: int, value: str, error: str, fatal: bool, attempts: int) -> None:
        for name, v in zip(out, (int(batch["index"][i]), value, error, fatal, attempts), strict=True):
            out[name].append(v)

    todo = []
    for i, key in enumerate(keys):
        if key in found:
            emit(i, json.dumps(found[key]), "", False, 1)  # asked once, by an attempt that died
        else:
            todo.append(i)
    if todo:
        mine = Cache(folder / f"worker-{os.getpid()}-{uuid.uuid4().hex[:8]}.sqlite")
        backend = make_backend(cfg, env)
        requests = [_from_row(batch, i) for i in todo]
        try:
            for n, outcome in enumerate(backend.complete_batch(requests), start=1):
                i = todo[outcome.index]
                result = outcome.result
                if isinstance(result, ChatResponse):
                    mine.put(
                        keys[i], result.to_dict(), meta=json.loads(str(batch["payload"][i])), stage="ray"
                    )
                    emit(i, json.dumps(result.to_dict()), "", False, outcome.attempts)
                else:
                    emit(i, "", str(result), isinstance(result, StageError), outcome.attempts)
                if die_after and n == die_after and not (folder / "died-once").exists():
                    (folder / "died-once").touch()
                    os._exit(1)  # tests: a worker killed mid-batch
        finally:
            mine.close()
    return {name: np.array(values, dtype=object) for name, values in out.items()}


def _to_row(index: int, request: ChatRequest, kind: str, model: str) -> dict[str, Any]:
    """A request as a dataset row: its cache key, its payload, and what rebuilds it."""
    payload = chat_payload(kind, model, request)
    return {
        "index": index,
        "key": content_key(payload),
        "payload": json.dumps(payload),
        "messages": json.dumps(request.message_dicts()),
        "template": request.template,
        "sampling": json.dumps(dataclasses.asdict(request.sampling) if request.sampling else None),
    }


def _from_row(batch: dict[str, np.ndarray], i: int) -> ChatRequest:
    sampling = json.loads(str(batch["sampling"][i]))
    messages = tuple(Message(m["role"], m["content"]) for m in json.loads(str(batch["messages"][i])))
    return ChatRequest(messages, str(batch["template"][i]), Sampling(**sampling) if sampling else None)


def _ray() -> Any:
    """Ray, imported on first use."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise MissingDependency("ray", "ray") from None
    return ray
