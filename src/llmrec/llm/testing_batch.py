"""A loopback fake of the OpenAI Batch API (files, batches, file content) for tests, with fault scripts.

POST /v1/files takes a multipart upload; POST /v1/batches creates a batch over an uploaded file;
GET /v1/batches/{id} advances it one step per poll (validating -> in_progress -> finalizing ->
completed) and, on completion, answers every line with `answer` (default "echo: <last user turn>");
GET /v1/batches lists them; GET /v1/files/{id}/content returns a file; POST /v1/embeddings answers
online. Scripted faults: `expire`
(the batch expires with only the first `expire_after` lines answered), `error_ids` (those custom_ids get
an error line), `garbage_lines` (that many output lines replaced by text that is not JSON), `fail`
(the whole batch fails validation). Tokens are whitespace-separated words.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from llmrec.llm.testing import Answer, echo, fake_vector, words

STEPS = ("validating", "in_progress", "finalizing", "completed")


class FakeBatchServer:
    """Threaded fake of the Batch endpoints on a free loopback port; use as a context manager."""

    def __init__(self, *, polls_to_finish: int = 3, answer: Answer = echo, embed_dim: int = 8) -> None:
        self.answer = answer
        self.embed_dim = embed_dim
        self.polls_to_finish = polls_to_finish  # polls until a batch reaches a terminal state
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.uploads = 0
        self.creates = 0
        self.polls = 0
        self.expire = False
        self.expire_after = 0
        self.error_ids: Collection[str] = ()
        self.garbage_lines = 0
        self.fail = False
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        """Base URL, ending in /v1."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeBatchServer:
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def upload(self, data: bytes) -> dict[str, Any]:
        with self._lock:
            self.uploads += 1
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = data
        return {"id": file_id, "object": "file", "bytes": len(data), "purpose": "batch"}

    def create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if body.get("input_file_id") not in self.files:
                return 400, {"error": {"message": f"no file {body.get('input_file_id')}"}}
            self.creates += 1
            batch_id = f"batch_{len(self.batches) + 1}"
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": body.get("endpoint"), "status": STEPS[0],
                "input_file_id": body["input_file_id"], "output_file_id": None, "error_file_id": None,
                "errors": None, "request_counts": {"total": 0, "completed": 0, "failed": 0}, "_polls": 0,
            }  # fmt: skip
            return 200, _public(self.batches[batch_id])

    def poll(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.polls += 1
            batch = self.batches.get(batch_id)
            if batch is None:
                return 404, {"error": {"message": f"no batch {batch_id}"}}
            if batch["status"] in STEPS[:-1]:
                batch["_polls"] += 1
                if self.fail:
                    batch.update(status="failed", errors={"data": [{"message": "line 1: invalid model"}]})
                elif batch["_polls"] >= self.polls_to_finish:
                    self._finish(batch)
                else:
                    batch["status"] = STEPS[min(batch["_polls"], 2)]
            return 200, _public(batch)

    def _finish(self, batch: dict[str, Any]) -> None:
        """Answer the batch's lines into an output and an error file, applying the scripted faults."""
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].decode().splitlines() if x.strip()]
        if self.expire:
            lines = lines[: self.expire_after]
        out, err = [], []
        for n, line in enumerate(lines):
            cid = line["custom_id"]
            if cid in self.error_ids:
                err.append({"id": f"req-{n}", "custom_id": cid, "response": {"status_code": 400,
                            "body": {"error": {"message": "prompt rejected"}}}, "error": None})  # fmt: skip
                continue
            messages = line["body"]["messages"]
            text = self.answer(messages)
            prompt = sum(words(m["content"]) for m in messages)
            body = {"id": f"chatcmpl-{n}", "object": "chat.completion", "model": line["body"]["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": words(text)}}  # fmt: skip
            out.append(json.dumps({"id": f"req-{n}", "custom_id": cid, "response": {"status_code": 200,
                                   "body": body}, "error": None}))  # fmt: skip
        for k in range(min(self.garbage_lines, len(out))):
            out[k] = '{"custom_id": broken'
        for name, rows in (("output_file_id", out), ("error_file_id", [json.dumps(e) for e in err])):
            if rows:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = ("\n".join(rows) + "\n").encode()
                batch[name] = file_id
        batch["status"] = "expired" if self.expire else "completed"
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    @property
    def fake(self) -> FakeBatchServer:
        return self.server.fake  # type: ignore[attr-defined, no-any-return]

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/v1/files":
            match = re.search(
                rb'name="file"; filename="[^"]*"\r\nContent-Type: [^\r]*\r\n\r\n(.*)\r\n--', raw, re.S
            )
            if match is None:
                self._send(400, {"error": {"message": "no file part"}})
            else:
                self._send(200, self.fake.upload(match.group(1)))
        elif self.path == "/v1/embeddings":  # embeddings are asked online, as the backend does
            texts = json.loads(raw)["input"]
            data = [
                {"index": i, "embedding": fake_vector(t, self.fake.embed_dim)} for i, t in enumerate(texts)
            ]
            self._send(200, {"data": data, "usage": {"prompt_tokens": sum(words(t) for t in texts)}})
        elif self.path == "/v1/batches":
            self._send(*self.fake.create(json.loads(raw or b"{}")))
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_GET(self) -> None:
        fake = self.fake
        if match := re.fullmatch(r"/v1/files/([\w-]+)/content", self.path):
            data = fake.files.get(match.group(1))
            if data is None:
                self._send(404, {"error": {"message": "no such file"}})
            else:
                self._raw(200, data, "application/jsonl")
        elif match := re.fullmatch(r"/v1/batches/([\w-]+)", self.path):
            self._send(*fake.poll(match.group(1)))
        elif self.path.startswith("/v1/batches"):
            with fake._lock:
                listing = [_public(b) for b in reversed(fake.batches.values())]
            self._send(200, {"object": "list", "data": listing})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        self._raw(status, json.dumps(payload).encode(), "application/json")

    def _raw(self, status: int, data: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
