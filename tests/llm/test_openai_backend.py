"""The OpenAI-compatible backend against a real loopback server with injected faults."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from llmrec.llm import CachedLLM, ChatRequest, EmbedRequest, LLMConfig, make_backend
from llmrec.llm.errors import (
    EndpointMissing,
    KeyRejected,
    MissingAPIKey,
    RequestRejected,
    RetriesExhausted,
    ServerUnreachable,
    UnknownModel,
)
from llmrec.llm.openai_backend import retry_after_seconds
from llmrec.llm.testing import DROP, GARBAGE, TRUNCATE, FakeOpenAIServer, http_error, slow

Make = Callable[..., CachedLLM]


def test_answer_usage_and_request_shape(server: FakeOpenAIServer, make_llm: Make) -> None:
    llm = make_llm(temperature=0.3, max_tokens=7)
    reply = llm.complete(
        ChatRequest.of([{"role": "system", "content": "be brief"}, {"role": "user", "content": "two words"}])
    )
    assert reply.text == "echo: two words"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4, 3)
    assert reply.finish_reason == "stop" and reply.model == "chat-m"
    body = server.bodies[0]
    assert body["model"] == "chat-m" and body["temperature"] == 0.3 and body["max_tokens"] == 7
    assert body["messages"][0] == {"role": "system", "content": "be brief"}


def test_finish_reason_length_is_kept(make_llm: Make) -> None:
    reply = make_llm(max_tokens=2).complete("one two three four")
    assert (reply.text, reply.finish_reason) == ("echo: one", "length")


def test_429_retry_after_is_honoured(server: FakeOpenAIServer, make_llm: Make) -> None:
    server.push(http_error(429, retry_after=0.4))
    llm = make_llm(backoff_base_s=0.001, backoff_max_s=0.001)
    start = time.perf_counter()
    assert llm.complete("hi").text == "echo: hi"
    assert time.perf_counter() - start >= 0.4  # backoff alone would have waited at most 1 ms
    assert server.requests == 2
    assert (llm.stats.requests, llm.stats.retries) == (2, 1)


@pytest.mark.parametrize(
    "fault",
    [http_error(500), http_error(503), DROP, TRUNCATE, GARBAGE],
    ids=["500", "503", "drop", "truncate", "garbage"],
)
def test_transient_faults_are_retried(server: FakeOpenAIServer, make_llm: Make, fault: object) -> None:
    server.push(fault, fault)  # type: ignore[arg-type]
    llm = make_llm()
    assert llm.complete("hi").text == "echo: hi"
    assert server.requests == 3
    assert (llm.stats.requests, llm.stats.retries, llm.stats.failures) == (3, 2, 0)


def test_timeout_is_retried(server: FakeOpenAIServer, make_llm: Make) -> None:
    server.push(slow(1.0))
    llm = make_llm(timeout_s=0.2)
    start = time.perf_counter()
    assert llm.complete("hi").text == "echo: hi"
    assert 0.2 <= time.perf_counter() - start < 1.0  # did not wait for the slow answer
    assert llm.stats.retries == 1


@pytest.mark.parametrize("status", [400, 422])
def test_other_4xx_fail_the_item_without_retry(server: FakeOpenAIServer, make_llm: Make, status: int) -> None:
    server.push(http_error(status, message="prompt too long"))
    llm = make_llm(concurrency=1)  # so the fault meets the first prompt
    results = llm.complete_all([ChatRequest.of("bad"), ChatRequest.of("good")])
    assert isinstance(results[0], RequestRejected) and results[0].status == status
    assert "prompt too long" in str(results[0])
    assert results[1].text == "echo: good"  # type: ignore[union-attr]
    assert server.requests == 2
    assert (llm.stats.failures, llm.stats.retries, llm.stats.answered) == (1, 0, 1)


def test_rejected_key_stops_the_stage_without_retry(server: FakeOpenAIServer, make_llm: Make) -> None:
    server.api_key = "right-key"
    llm = make_llm(env={"OPENAI_API_KEY": "wrong-key-123"})
    with pytest.raises(KeyRejected) as err:
        llm.complete_all([ChatRequest.of(f"p{i}") for i in range(20)])
    message = str(err.value)
    assert "OPENAI_API_KEY" in message and server.url in message and "HTTP 401" in message
    assert "wrong-key-123" not in message
    assert server.requests <= 8  # the batch stopped at the first refusal: at most one round in flight


def test_key_from_env_is_sent(server: FakeOpenAIServer, make_llm: Make) -> None:
    server.api_key = "right-key"
    llm = make_llm(env={"MY_KEY": "right-key"}, api_key_env="MY_KEY")
    assert llm.complete("hi").text == "echo: hi"


def test_missing_key_for_openai_com_is_reported_before_sending(config: LLMConfig) -> None:
    from dataclasses import replace

    backend = make_backend(replace(config, base_url=None), {})
    with pytest.raises(MissingAPIKey, match="set the environment variable OPENAI_API_KEY"):
        backend.complete("hi")
    assert backend.complete_all([]) == []


def test_unknown_model(server: FakeOpenAIServer, make_llm: Make) -> None:
    with pytest.raises(UnknownModel, match="does not serve model 'gpt-nope'"):
        make_llm(model="gpt-nope").complete("hi")
    assert server.requests == 1


def test_wrong_path_is_not_called_an_unknown_model(server: FakeOpenAIServer, make_llm: Make) -> None:
    with pytest.raises(EndpointMissing, match="end in /v1"):
        make_llm(base_url=server.url.removesuffix("/v1")).complete("hi")


def test_unreachable_server(make_llm: Make) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    llm = make_llm(base_url=url, max_retries=2)
    with pytest.raises(ServerUnreachable) as err:
        llm.complete("hi")
    assert url in str(err.value) and "3 attempt(s)" in str(err.value)
    assert (llm.stats.requests, llm.stats.failures) == (3, 1)


def test_server_failing_past_the_budget(server: FakeOpenAIServer, make_llm: Make) -> None:
    server.fail_always(http_error(500))
    llm = make_llm(max_retries=2, concurrency=1)
    with pytest.raises(RetriesExhausted, match=r"kept failing \(HTTP 500\), gave up after 3 attempt"):
        llm.complete_all([ChatRequest.of(f"p{i}") for i in range(5)])
    assert server.requests == 3  # one item's budget; no other item was started afterwards


def test_embeddings_are_batched_and_usage_split(server: FakeOpenAIServer, make_llm: Make) -> None:
    llm = make_llm(embed_batch=4)
    texts = [f"w{i} " * (i % 3 + 1) for i in range(10)]
    vectors = llm.embed_all([EmbedRequest(t) for t in texts])
    assert server.requests == 3  # 4 + 4 + 2
    assert sorted(len(b["input"]) for b in server.bodies) == [2, 4, 4]
    assert all(b["model"] == "embed-m" for b in server.bodies)
    assert len(vectors) == 10 and all(len(v.vector) == server.embed_dim for v in vectors)  # type: ignore[union-attr]
    assert sum(v.usage.prompt_tokens for v in vectors) == sum(len(t.split()) for t in texts)  # type: ignore[union-attr]
    assert llm.stats.requests == 3


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Thu, 01 Jan 2026 00:00:10 GMT"}, 10.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, now=1767225600.0) == expected  # 2026-01-01T00:00:00Z


def test_rate_limit_from_config_spaces_requests(server: FakeOpenAIServer, make_llm: Make) -> None:
    llm = make_llm(rpm=1200, concurrency=16)  # 20 per second, a burst of 20
    start = time.perf_counter()
    llm.complete_all([ChatRequest.of(f"p{i}") for i in range(30)])
    assert time.perf_counter() - start >= 0.45  # the 10 after the burst come at 20 per second
    assert server.requests == 30
