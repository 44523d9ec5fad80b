"""The Batch API backend against a loopback fake: answers cached, resume mid-poll, expiry, bad lines."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmrec.llm import Accounting, CachedLLM, ChatRequest, LLMConfig, open_llm
from llmrec.llm.batch_api import BatchAPIError
from llmrec.llm.batch_backend import BatchFailed, BatchStillRunning
from llmrec.llm.errors import RequestFailed, StageError
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.llm.testing_batch import FakeBatchServer


@pytest.fixture
def fake() -> Iterator[FakeBatchServer]:
    with FakeBatchServer() as server:
        yield server


def config(fake: FakeBatchServer, tmp_path: Path, **changes: object) -> LLMConfig:
    cfg = LLMConfig(backend="openai_batch", base_url=fake.url, model="chat-m", timeout_s=5.0,
                    cache_path=str(tmp_path / "cache.sqlite"), batch_dir=str(tmp_path / "run"),
                    batch_poll_s=0.0)  # fmt: skip
    return dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]


def prompts(n: int) -> list[ChatRequest]:
    return [ChatRequest.of(f"prompt {i}", template="t/v1") for i in range(n)]


def state(tmp_path: Path) -> list[dict[str, object]]:
    return list(json.loads((tmp_path / "run" / "llm_batches.json").read_text())["batches"])


def opened(cfg: LLMConfig) -> CachedLLM:
    return open_llm(cfg, {}, Accounting().stage("edges"))


def test_answers_come_back_in_order_and_are_cached_under_online_keys(
    fake: FakeBatchServer, tmp_path: Path
) -> None:
    llm = opened(config(fake, tmp_path))
    requests = prompts(4) + prompts(1)  # a duplicate is asked once
    answers = llm.complete_all(requests)
    assert [a.text for a in answers] == [f"echo: prompt {i}" for i in (0, 1, 2, 3, 0)]  # type: ignore[union-attr]
    assert (fake.uploads, fake.creates, fake.polls) == (1, 1, 3)
    assert (llm.stats.answered, llm.stats.cache_hits, llm.stats.prompt_tokens) == (4, 1, 8)
    (entry,) = state(tmp_path)
    assert entry["collected"] and entry["status"] == "completed" and len(entry["custom_ids"]) == 4  # type: ignore[arg-type]
    llm.close()
    # The online backend with the same cache finds every answer: the keys are the same.
    with FakeOpenAIServer() as online:
        cfg = LLMConfig(base_url=online.url, model="chat-m", cache_path=str(tmp_path / "cache.sqlite"))
        again = opened(cfg)
        assert [a.text for a in again.complete_all(prompts(4))] == [a.text for a in answers[:4]]  # type: ignore[union-attr]
        assert online.requests == 0
        again.close()


def test_restart_mid_poll_polls_the_same_batch(fake: FakeBatchServer, tmp_path: Path) -> None:
    cfg = config(fake, tmp_path)
    first = opened(cfg)

    def killed(_: float) -> None:
        raise KeyboardInterrupt  # what a kill between two polls leaves behind

    first.backend._sleep = killed  # type: ignore[attr-defined]
    with pytest.raises(KeyboardInterrupt):
        first.complete_all(prompts(3))
    first.close()
    (entry,) = state(tmp_path)
    assert entry["id"] == "batch_1" and entry["status"] == "in_progress" and not entry["collected"]
    second = opened(cfg)
    assert [a.text for a in second.complete_all(prompts(3))] == [f"echo: prompt {i}" for i in range(3)]  # type: ignore[union-attr]
    assert (fake.uploads, fake.creates) == (1, 1)  # nothing submitted twice
    second.close()


def test_killed_between_upload_and_create_finds_or_creates_once(
    fake: FakeBatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(fake, tmp_path)
    first = opened(cfg)

    def lost(*_: object) -> None:
        raise BatchAPIError("POST /batches: cannot reach the server (connection reset)")

    monkeypatch.setattr(first.backend.client, "create", lost)  # type: ignore[attr-defined]
    with pytest.raises(BatchAPIError, match="connection reset"):
        first.complete_all(prompts(2))
    first.close()
    assert state(tmp_path)[0]["id"] is None
    second = opened(cfg)
    assert len(second.complete_all(prompts(2))) == 2
    assert (fake.uploads, fake.creates) == (1, 1)  # the uploaded file was reused
    second.close()


def test_expired_batch_keeps_its_answers_and_resubmits_the_rest(
    fake: FakeBatchServer, tmp_path: Path
) -> None:
    fake.expire, fake.expire_after = True, 2
    llm = opened(config(fake, tmp_path, batch_rounds=1))
    results = llm.complete_all(prompts(4))
    assert [getattr(r, "text", None) for r in results[:2]] == ["echo: prompt 0", "echo: prompt 1"]
    assert all(
        isinstance(r, RequestFailed) and "no answer after 1 batch round" in str(r) for r in results[2:]
    )
    assert (llm.stats.answered, llm.stats.failures) == (2, 2)
    llm.close()
    # A second round (the default) resubmits only the two unanswered prompts, and they come back.
    rerun = opened(config(fake, tmp_path))
    assert all(r.text.startswith("echo") for r in rerun.complete_all(prompts(4)))  # type: ignore[union-attr]
    assert fake.creates == 2 and len(state(tmp_path)[1]["custom_ids"]) == 2  # type: ignore[arg-type]
    rerun.close()


def test_error_lines_and_malformed_lines_fail_their_requests_alone(
    fake: FakeBatchServer, tmp_path: Path
) -> None:
    llm = opened(config(fake, tmp_path, batch_rounds=1))
    fake.error_ids = {llm.chat_key(prompts(3)[2])}
    fake.garbage_lines = 1  # the first output line (prompt 0) is unreadable
    results = llm.complete_all(prompts(3))
    assert isinstance(results[0], RequestFailed) and "no answer after 1 batch round" in str(results[0])
    assert getattr(results[1], "text", None) == "echo: prompt 1"
    assert (
        isinstance(results[2], RequestFailed)
        and "HTTP 400" in str(results[2])
        and "prompt rejected" in str(results[2])
    )
    assert state(tmp_path)[0]["unreadable_lines"] == 1
    llm.close()
    fake.error_ids, fake.garbage_lines = (), 0
    rerun = opened(config(fake, tmp_path))
    assert all(r.text.startswith("echo") for r in rerun.complete_all(prompts(3)))  # type: ignore[union-attr]
    assert rerun.stats.cache_hits == 1 and rerun.stats.answered == 2  # only the two failures asked again
    rerun.close()


def test_failed_batch_stops_the_stage_with_the_servers_reason(fake: FakeBatchServer, tmp_path: Path) -> None:
    fake.fail = True
    llm = opened(config(fake, tmp_path))
    with pytest.raises(BatchFailed, match=r"batch batch_1 .* failed: line 1: invalid model"):
        llm.complete_all(prompts(2))
    llm.close()


def test_waiting_too_long_stops_and_a_rerun_goes_on_polling(fake: FakeBatchServer, tmp_path: Path) -> None:
    llm = opened(config(fake, tmp_path, batch_wait_s=0.0))
    with pytest.raises(BatchStillRunning, match="still running after 0 s; run again to go on polling"):
        llm.complete_all(prompts(2))
    llm.close()
    rerun = opened(config(fake, tmp_path))
    assert len(rerun.complete_all(prompts(2))) == 2 and (fake.uploads, fake.creates) == (1, 1)
    rerun.close()


def test_unreachable_batch_server_is_a_clear_stage_error(tmp_path: Path) -> None:
    cfg = LLMConfig(backend="openai_batch", base_url="http://127.0.0.1:9/v1", model="m", timeout_s=1.0,
                    cache_path=str(tmp_path / "c.sqlite"), batch_dir=str(tmp_path / "run"))  # fmt: skip
    llm = opened(cfg)
    with pytest.raises(BatchAPIError, match=r"POST http://127.0.0.1:9/v1/files: cannot reach the server"):
        llm.complete_all(prompts(1))
    llm.close()


def test_corrupt_state_file_is_named(fake: FakeBatchServer, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "llm_batches.json").write_text('{"batches": ')
    llm = opened(config(fake, tmp_path))
    with pytest.raises(StageError, match=r"llm_batches.json: not a batch state file .* move it away"):
        llm.complete_all(prompts(1))
    assert fake.uploads == 0
    llm.close()
