"""Chat completions through the OpenAI Batch API: half the price, answers within the completion window.

`complete_batch(requests)` writes the requests as JSONL (custom_id = the prompt's cache key), uploads
it, creates a batch, polls it, downloads the output and error files and yields one outcome per
request; `CachedLLM` stores each answer in the cache as it is yielded, before any parser sees it.

Resumable: the state of every batch (input file, batch id, the custom_ids it holds) is written to
`<batch_dir>/llm_batches.json` before the next step, so a process killed while polling finds its
batch again on restart and polls it, instead of paying for it twice. A batch that expires yields
the answers it has and its unanswered requests go into a new batch (`batch_rounds` in all). A line
of the output that cannot be read, or an error line, fails that request alone (`RequestFailed`).
Embeddings go to the online endpoint (`OpenAIBackend`): they are cheap and fast.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from llmrec.atomic import write_json
from llmrec.cache import content_key
from llmrec.llm.base import (
    Backend,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Outcome,
    Sampling,
    chat_payload,
)
from llmrec.llm.batch_api import TERMINAL, BatchAPIError, BatchClient
from llmrec.llm.config import LLMConfig
from llmrec.llm.errors import MissingAPIKey, RequestFailed, StageError
from llmrec.llm.openai_backend import OPENAI_URL, PLACEHOLDER_KEY, OpenAIBackend
from llmrec.llm.wire import chat_from_json

log = logging.getLogger("llmrec")
STATE_FILE = "llm_batches.json"
ENDPOINT = "/v1/chat/completions"


class BatchFailed(StageError):
    """The server refused or failed a whole batch."""


class BatchStillRunning(StageError):
    """A batch did not finish within `batch_wait_s`; a rerun goes on polling it."""


class BatchState:
    """The batches of one run directory, as JSON: rewritten atomically after every change."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STATE_FILE
        self.batches: list[dict[str, Any]] = []
        if self.path.is_file():
            try:
                self.batches = list(json.loads(self.path.read_text())["batches"])
            except (ValueError, KeyError, TypeError) as exc:
                why = f"{self.path}: not a batch state file ({exc}); move it away to start afresh"
                raise StageError(why) from None

    def save(self) -> None:
        write_json(self.path, {"batches": self.batches})

    def open_for(self, wanted: set[str]) -> list[dict[str, Any]]:
        """Batches not yet collected that hold any of the `wanted` custom_ids."""
        return [b for b in self.batches if not b.get("collected") and wanted & set(b["custom_ids"])]


class BatchAPIBackend(Backend):
    """Chat completions by the Batch API; its cache keys are those of the online `openai` backend."""

    kind = "openai"  # the same model answers: a batch answer serves the online path and back

    def __init__(
        self, cfg: LLMConfig, api_key: str | None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.model = cfg.model
        self.embedding_model = cfg.embedding_model
        self.sampling = Sampling(cfg.temperature, cfg.max_tokens)
        self.url = (cfg.base_url or OPENAI_URL).rstrip("/")
        key = api_key or (None if self.url == OPENAI_URL else PLACEHOLDER_KEY)
        self._missing_key = MissingAPIKey(cfg.api_key_env, self.url) if key is None else None
        self.client = BatchClient(self.url, key or PLACEHOLDER_KEY, cfg.timeout_s)
        self.folder = Path(cfg.batch_dir or Path(cfg.cache_path).parent / "batches")
        self.poll_s, self.wait_s, self.window = cfg.batch_poll_s, cfg.batch_wait_s, cfg.batch_window
        self.max_requests, self.rounds = cfg.batch_max_requests, cfg.batch_rounds
        self._sleep = sleep
        self._online = OpenAIBackend(cfg, api_key)

    def embed_batch(self, requests: Sequence[EmbedRequest]) -> Iterator[Outcome[EmbedResponse]]:
        """Embeddings from the online endpoint."""
        return self._online.embed_batch(requests)

    def complete_batch(self, requests: Sequence[ChatRequest]) -> Iterator[Outcome[ChatResponse]]:
        """Every request through batches (resumed where the state file has them); outcomes as collected."""
        if self._missing_key is not None and requests:
            yield Outcome(0, self._missing_key, 0)
            return
        resolved = [self.resolved(r) for r in requests]
        index: dict[str, list[int]] = {}
        for i, request in enumerate(resolved):
            index.setdefault(content_key(chat_payload(self.kind, self.model, request)), []).append(i)
        state = BatchState(self.folder)
        left = dict.fromkeys(index)  # custom_ids not answered yet, in order
        failed: dict[str, str] = {}
        try:
            for round_no in range(self.rounds):
                batches = state.open_for(set(left))
                covered = {c for b in batches for c in b["custom_ids"]}
                fresh = [c for c in left if c not in covered and c not in failed]
                for start in range(0, len(fresh), self.max_requests):
                    chunk = fresh[start : start + self.max_requests]
                    batches.append(
                        self._submit(state, chunk, [resolved[index[c][0]] for c in chunk], round_no)
                    )
                for batch in self._poll(state, batches):
                    for custom_id, result in self._collect(batch):
                        if custom_id not in left:
                            continue
                        if isinstance(result, ChatResponse):
                            del left[custom_id]
                            failed.pop(custom_id, None)
                            for i in index[custom_id]:
                                yield Outcome(i, result, 1)
                        else:
                            failed[custom_id] = result
                    batch["collected"] = True  # every answer above is in the cache by now
                    state.save()
                retry = [c for c in left if c not in failed]  # expired or missing: worth another batch
                if not retry:
                    break
                log.warning(
                    "llm batch: %d requests unanswered after round %d; submitting them again",
                    len(retry),
                    round_no + 1,
                )
        except StageError as exc:
            yield Outcome(index[next(iter(left))][0] if left else 0, exc, 0)
            return
        for custom_id in left:
            why = failed.get(custom_id, f"no answer after {self.rounds} batch round(s) (expired or missing)")
            for i in index[custom_id]:
                yield Outcome(i, RequestFailed(f"batch API: {why}"), 1)

    def _submit(
        self, state: BatchState, custom_ids: list[str], requests: list[ChatRequest], round_no: int
    ) -> dict[str, Any]:
        """Upload the requests, record the file, create the batch, record its id; the state entry."""
        lines = [
            json.dumps({"custom_id": c, "method": "POST", "url": ENDPOINT, "body": self._body(r)})
            for c, r in zip(custom_ids, requests, strict=True)
        ]
        file_id = self.client.upload(f"llmrec-{custom_ids[0][:12]}.jsonl", ("\n".join(lines) + "\n").encode())
        entry: dict[str, Any] = {
            "input_file_id": file_id,
            "id": None,
            "status": "uploaded",
            "round": round_no,
            "custom_ids": custom_ids,
            "collected": False,
        }
        state.batches.append(entry)
        state.save()  # a crash from here on finds the file and looks for its batch before creating one
        self._create(state, entry)
        return entry

    def _create(self, state: BatchState, entry: dict[str, Any]) -> None:
        batch = self.client.create(entry["input_file_id"], ENDPOINT, self.window, {"source": "llmrec"})
        entry.update(id=batch.get("id"), status=batch.get("status", "validating"))
        if not entry["id"]:
            raise BatchAPIError(f"POST {self.url}/batches: the reply has no batch id")
        state.save()
        log.info("llm batch: created %s (%d requests)", entry["id"], len(entry["custom_ids"]))

    def _poll(self, state: BatchState, batches: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield each batch once it is in a terminal state, polling every `poll_s` up to `wait_s`."""
        for entry in batches:
            if entry["id"] is None:  # killed between upload and create: is the batch there after all?
                found = self.client.find(entry["input_file_id"])
                if found is not None:
                    entry.update(id=found["id"], status=found.get("status"))
                    state.save()
                else:
                    self._create(state, entry)
        pending = list(batches)
        deadline = time.monotonic() + self.wait_s
        while pending:
            for entry in list(pending):
                batch = self.client.get(entry["id"])
                entry.update(
                    status=batch.get("status"),
                    output_file_id=batch.get("output_file_id"),
                    error_file_id=batch.get("error_file_id"),
                    counts=batch.get("request_counts"),
                )
                if entry["status"] == "failed":
                    entry["collected"] = True
                    state.save()
                    raise BatchFailed(f"batch {entry['id']} at {self.url} failed: {_batch_errors(batch)}")
                if entry["status"] in TERMINAL:
                    state.save()
                    pending.remove(entry)
                    yield entry
            if pending:
                state.save()
                if time.monotonic() >= deadline:
                    ids = ", ".join(str(e["id"]) for e in pending)
                    raise BatchStillRunning(
                        f"batch(es) {ids} still running after {self.wait_s:.0f} s; run again to go on polling"
                        f" (state in {state.path})"
                    )
                self._sleep(self.poll_s)

    def _collect(self, entry: dict[str, Any]) -> Iterator[tuple[str, ChatResponse | str]]:
        """(custom_id, answer or why it failed) for every readable line of the output and error files."""
        bad = 0
        for key in ("output_file_id", "error_file_id"):
            if not entry.get(key):
                continue
            for n, line in enumerate(self.client.content(entry[key]).decode("utf-8", "replace").splitlines()):
                if not line.strip():
                    continue
                try:
                    yield _read_line(line, self.model)
                except ValueError as exc:
                    bad += 1
                    log.warning("llm batch %s: %s line %d unreadable (%s)", entry["id"], key[:-3], n + 1, exc)
        entry["unreadable_lines"] = bad

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        assert request.sampling is not None
        s = request.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.message_dicts(),
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
        }
        if s.top_p != 1.0:
            body["top_p"] = s.top_p
        if s.seed is not None:
            body["seed"] = s.seed
        return body


def _read_line(line: str, model: str) -> tuple[str, ChatResponse | str]:
    """One output or error line: (custom_id, the answer or the reason it failed); ValueError if unreadable."""
    data = json.loads(line)
    if not isinstance(data, dict) or not isinstance(data.get("custom_id"), str):
        raise ValueError("no custom_id")
    custom_id = data["custom_id"]
    if data.get("error"):
        return custom_id, f"error {json.dumps(data['error'])[:200]}"
    response = data.get("response") or {}
    status = response.get("status_code")
    if status != 200:
        return custom_id, f"HTTP {status}: {json.dumps(response.get('body'))[:200]}"
    return custom_id, chat_from_json(response.get("body"), model)


def _batch_errors(batch: dict[str, Any]) -> str:
    errors = (batch.get("errors") or {}).get("data") or []
    return "; ".join(str(e.get("message", e)) for e in errors[:3]) or "no reason given"
