"""Several loopback servers behind one backend: spread, fail-over, health, per-endpoint accounting."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from llmrec.errors import ConfigError
from llmrec.llm import Accounting, ChatRequest, EmbedRequest, LLMConfig, open_llm, resolve_llm_config
from llmrec.llm.endpoints import AllEndpointsMisconfigured, Endpoint, EndpointPool
from llmrec.llm.errors import RequestRejected, Transient
from llmrec.llm.testing import DROP, GARBAGE, TRUNCATE, FakeOpenAIServer, Fault, http_error

from .conftest import FAST


@pytest.fixture
def servers() -> Iterator[list[FakeOpenAIServer]]:
    """Three fake servers of the models 'chat-m' and 'embed-m'."""
    with ExitStack() as stack:
        yield [stack.enter_context(FakeOpenAIServer(models={"chat-m", "embed-m"})) for _ in range(3)]


def multi(urls: list[str], tmp_path: Path, **changes: object) -> LLMConfig:
    settings: dict[str, object] = {**FAST, "concurrency": 6, "endpoint_probe_s": 30.0, **changes}
    return LLMConfig(
        base_urls=tuple(urls), model="chat-m", embedding_model="embed-m",
        cache_path=str(tmp_path / "cache.sqlite"), **settings,  # type: ignore[arg-type]
    )  # fmt: skip


def prompts(n: int) -> list[ChatRequest]:
    return [ChatRequest.of(f"prompt {i}", template="t/v1") for i in range(n)]


def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_requests_are_spread_and_accounted_per_endpoint(
    servers: list[FakeOpenAIServer], tmp_path: Path
) -> None:
    for s in servers:
        s.delay_s = 0.01
    llm = open_llm(multi([s.url for s in servers], tmp_path), {}, Accounting().stage("edges"))
    answers = llm.complete_all(prompts(60))
    assert [a.text for a in answers] == [f"echo: prompt {i}" for i in range(60)]  # type: ignore[union-attr]
    counts = [s.requests for s in servers]
    assert sum(counts) == 60 and min(counts) >= 10  # least-in-flight keeps every server busy
    report = llm.endpoint_report()
    assert [r["requests"] for r in report] == counts
    assert [r["answered"] for r in report] == counts
    assert all(r["state"] == "up" and r["errors"] == 0 for r in report)
    # "prompt i" is two words: the fake bills 2 prompt tokens and 3 completion tokens per answer
    assert [r["prompt_tokens"] for r in report] == [2 * c for c in counts]
    assert (llm.stats.requests, llm.stats.answered, llm.stats.retries) == (60, 60, 0)
    llm.close()


def test_one_endpoint_failing_every_request(servers: list[FakeOpenAIServer], tmp_path: Path) -> None:
    bad = servers[1]
    bad.fail_always(http_error(500))
    cfg = multi([s.url for s in servers], tmp_path)
    llm = open_llm(cfg, {}, Accounting().stage("edges"))
    answers = llm.complete_all(prompts(80))
    assert [a.text for a in answers] == [f"echo: prompt {i}" for i in range(80)]  # type: ignore[union-attr]
    report = {r["url"]: r for r in llm.endpoint_report()}
    assert report[bad.url.rstrip("/")]["state"] == "down"
    assert report[bad.url.rstrip("/")]["marked_down"] == 1  # cooldown 30 s: no probe within the test
    assert report[bad.url.rstrip("/")]["answered"] == 0
    # the bad server saw at most its failure threshold plus those already in flight when it went down
    assert 1 <= bad.requests <= cfg.endpoint_failures + cfg.concurrency
    good = sum(s.completed for s in servers)
    assert good == 80  # each prompt answered exactly once
    assert llm.stats.requests == sum(s.requests for s in servers)  # every HTTP request is counted
    assert llm.stats.retries == bad.requests
    llm.close()
    # Rerun with the same cache and a single healthy server: nothing is asked again.
    for s in servers:
        s.reset_counts()
    again = open_llm(multi([servers[0].url], tmp_path), {}, Accounting().stage("edges"))
    assert len(again.complete_all(prompts(80))) == 80
    assert sum(s.requests for s in servers) == 0 and again.stats.cache_hits == 80
    again.close()


def test_unreachable_endpoint_is_marked_down_at_once(servers: list[FakeOpenAIServer], tmp_path: Path) -> None:
    dead = closed_port_url()
    llm = open_llm(multi([dead, servers[0].url], tmp_path, concurrency=1), {}, Accounting().stage("s"))
    answers = llm.complete_all(prompts(10))
    assert all(a.text.startswith("echo") for a in answers)  # type: ignore[union-attr]
    report = {r["url"]: r for r in llm.endpoint_report()}
    assert report[dead]["requests"] == 1 and report[dead]["state"] == "down"  # one refusal is enough
    assert servers[0].requests == 10
    llm.close()


def test_misconfigured_endpoint_is_taken_out(servers: list[FakeOpenAIServer], tmp_path: Path) -> None:
    with FakeOpenAIServer(models={"other-model"}) as wrong:
        llm = open_llm(
            multi([wrong.url, servers[0].url], tmp_path, concurrency=1), {}, Accounting().stage("s")
        )
        assert len(llm.complete_all(prompts(5))) == 5
        report = {r["url"]: r for r in llm.endpoint_report()}
        row = report[wrong.url.rstrip("/")]
        assert row["state"] == "disabled" and "does not serve model 'chat-m'" in row["disabled_because"]
        assert wrong.requests == 1
        llm.close()


def test_every_endpoint_misconfigured_stops_the_stage_naming_each(tmp_path: Path) -> None:
    with FakeOpenAIServer(models={"x"}) as a, FakeOpenAIServer(api_key="right") as b:
        llm = open_llm(multi([a.url, b.url], tmp_path, concurrency=1), {}, Accounting().stage("s"))
        with pytest.raises(AllEndpointsMisconfigured) as err:
            llm.complete_all(prompts(3))
        text = str(err.value)
        assert "no usable LLM endpoint left of 2" in text and a.url.rstrip("/") in text
        assert "rejected the API key" in text and "[stage s: 0 of 3 answers are cached" in text
        llm.close()


def test_retry_after_sends_the_request_elsewhere_at_once(
    servers: list[FakeOpenAIServer], tmp_path: Path
) -> None:
    servers[0].push(http_error(429, retry_after=5))
    cfg = multi([servers[0].url, servers[1].url], tmp_path, concurrency=1)
    llm = open_llm(cfg, {}, Accounting().stage("s"))
    start = time.perf_counter()
    assert llm.complete("hi").text == "echo: hi"
    assert time.perf_counter() - start < 2.0  # did not wait the 5 s on the first server
    assert (servers[0].requests, servers[1].requests) == (1, 1)
    assert (llm.stats.requests, llm.stats.retries) == (2, 1)
    llm.close()


def test_embeddings_spread_and_same_cache_keys_as_one_server(
    servers: list[FakeOpenAIServer], tmp_path: Path
) -> None:
    texts = [EmbedRequest(f"text {i}") for i in range(12)]
    llm = open_llm(multi([s.url for s in servers], tmp_path, embed_batch=2), {}, Accounting().stage("e"))
    vectors = llm.embed_all(texts)
    assert sum(s.requests for s in servers) == 6
    llm.close()
    single = open_llm(multi([servers[2].url], tmp_path), {}, Accounting().stage("e"))
    single_cfg = LLMConfig(base_url=servers[2].url, model="chat-m", embedding_model="embed-m",
                           cache_path=str(tmp_path / "cache.sqlite"))  # fmt: skip
    one = open_llm(single_cfg, {}, Accounting().stage("e"))
    for s in servers:
        s.reset_counts()
    assert one.embed_all(texts) == vectors and single.embed_all(texts) == vectors
    assert sum(s.requests for s in servers) == 0  # the endpoint list is not part of the cache key
    single.close()
    one.close()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pool_marks_down_probes_and_brings_back() -> None:
    clock = Clock()
    a, b = (Endpoint(u, None) for u in ("http://a/v1", "http://b/v1"))  # type: ignore[arg-type]
    pool = EndpointPool([a, b], failures_to_down=2, probe_s=10.0, clock=clock)
    boom = Transient("HTTP 500")
    for _ in range(2):
        ep = pool.acquire({"http://b/v1"})
        assert ep is a
        pool.failed(a, 0.0, boom)
    assert a.state(clock.now) == "down"
    assert {pool.acquire(set()).url for _ in range(3)} == {"http://b/v1"}  # type: ignore[union-attr]
    assert pool.acquire({"http://b/v1"}) is None  # down, cooldown not over
    clock.now += 10.0
    probe = pool.acquire(set())  # the probe goes out although b is up
    assert probe is a and pool.acquire({"http://b/v1"}) is None  # one probe at a time
    pool.failed(a, 0.0, boom)  # the probe fails: down for twice as long
    assert a.down_until == pytest.approx(clock.now + 20.0)
    clock.now += 20.0
    assert pool.acquire({"http://b/v1"}) is a
    pool.succeeded(a, 0.01, 5, 7)
    assert a.state(clock.now) == "up" and a.cooldowns == 0
    row = pool.report()[0]
    assert (row["requests"], row["answered"], row["errors"], row["marked_down"]) == (4, 1, 3, 2)


def test_config_and_environment_forms() -> None:
    env = {"LLMREC_LLM_BASE_URLS": "http://h1:8000/v1, http://h2:8000/v1 http://h3:8000/v1"}
    cfg = resolve_llm_config(LLMConfig(base_url="http://old/v1"), env)
    assert cfg.base_urls == ("http://h1:8000/v1", "http://h2:8000/v1", "http://h3:8000/v1")
    assert cfg.base_url is None
    back = resolve_llm_config(LLMConfig(base_urls=("http://a/v1",)), {"LLMREC_LLM_BASE_URL": "http://one/v1"})
    assert (back.base_url, back.base_urls) == ("http://one/v1", ())
    with pytest.raises(ConfigError, match="both set"):
        LLMConfig(base_url="http://a/v1", base_urls=("http://b/v1",))
    with pytest.raises(ConfigError, match=r"base_urls\[1\].*listed twice"):
        LLMConfig(base_urls=("http://a/v1", "http://a/v1/"))
    with pytest.raises(ConfigError, match=r"base_urls\[0\].*not an http"):
        LLMConfig(base_urls=("localhost:8000",))
    with pytest.raises(ConfigError, match="not both"):
        resolve_llm_config(
            LLMConfig(), {"LLMREC_LLM_BASE_URL": "http://a/v1", "LLMREC_LLM_BASE_URLS": "http://b/v1"}
        )


@pytest.mark.parametrize(
    "fault", [http_error(500), http_error(503, retry_after=0), DROP, TRUNCATE, GARBAGE],
    ids=["500", "503", "drop", "truncate", "garbage"],
)  # fmt: skip
def test_lean_transport_retries_transient_faults(
    servers: list[FakeOpenAIServer], tmp_path: Path, fault: Fault
) -> None:
    servers[0].push(fault)
    llm = open_llm(multi([servers[0].url], tmp_path, concurrency=1), {}, Accounting().stage("s"))
    assert llm.complete("again").text == "echo: again"
    assert servers[0].requests == 2 and (llm.stats.requests, llm.stats.retries) == (2, 1)
    llm.close()


def test_lean_transport_refuses_a_bad_item_and_reads_chunked_replies(tmp_path: Path) -> None:
    reply = json.dumps({"choices": [{"message": {"content": "chunked ok"}}], "model": "m"}).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (reply[:10], reply[10:])) + b"0\r\n\r\n"
    responses = [
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 32\r\n\r\n"
        + b'{"error": {"message": "too long"}}'[:32],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
    ]
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def serve() -> None:  # each batch has its own worker threads, so its own connection
            for response in responses:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(response)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        llm = open_llm(
            multi([f"http://127.0.0.1:{port}/v1"], tmp_path, concurrency=1), {}, Accounting().stage("s")
        )
        (first,) = llm.complete_all([ChatRequest.of("a")])
        assert isinstance(first, RequestRejected) and "HTTP 400" in str(first)
        assert llm.complete("b").text == "chunked ok"
        thread.join(5)
        llm.close()


def test_a_recovered_endpoint_is_probed_back_into_service(
    servers: list[FakeOpenAIServer], tmp_path: Path
) -> None:
    bad = servers[1]
    bad.push(*[http_error(500)] * 3)  # three failures mark it down, then it answers again
    for s in servers[:2]:
        s.delay_s = 0.01
    cfg = multi([servers[0].url, bad.url], tmp_path, concurrency=2, endpoint_probe_s=0.05)
    llm = open_llm(cfg, {}, Accounting().stage("s"))
    assert len(llm.complete_all(prompts(60))) == 60
    row = {r["url"]: r for r in llm.endpoint_report()}[bad.url.rstrip("/")]
    assert row["marked_down"] == 1 and row["state"] == "up" and row["answered"] == bad.completed > 5
    llm.close()
