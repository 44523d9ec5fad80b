"""The cached wrapper: zero requests on a rerun, what a failure leaves behind, keys, accounting."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from llmrec.cache import Cache
from llmrec.llm import Accounting, CachedLLM, ChatRequest, EmbedRequest, Sampling, Usage
from llmrec.llm.errors import RetriesExhausted
from llmrec.llm.testing import FakeOpenAIServer, http_error

Make = Callable[..., CachedLLM]


def prompts(n: int, template: str = "t/v1") -> list[ChatRequest]:
    return [ChatRequest.of(f"item number {i}", template=template) for i in range(n)]


def test_second_run_makes_zero_requests(server: FakeOpenAIServer, make_llm: Make) -> None:
    first = make_llm().complete_all(prompts(50))
    assert server.requests == 50
    again = make_llm()  # a new wrapper on the same file, as a rerun would open it
    second = again.complete_all(prompts(50))
    assert server.requests == 50
    assert second == first
    assert (again.stats.cache_hits, again.stats.requests, again.stats.answered) == (50, 0, 0)


def test_identical_prompts_in_a_batch_are_sent_once(server: FakeOpenAIServer, make_llm: Make) -> None:
    llm = make_llm()
    results = llm.complete_all([ChatRequest.of("same"), ChatRequest.of("other"), ChatRequest.of("same")])
    assert server.requests == 2
    assert results[0] == results[2]
    assert (llm.stats.answered, llm.stats.cache_hits, llm.stats.done) == (2, 1, 3)


@pytest.mark.parametrize(
    "change",
    [{"template": "t/v2"}, {"sampling": Sampling(0.7, 512)}, {"model": "embed-m"}, {"messages": "other"}],
    ids=["template", "sampling", "model", "messages"],
)
def test_key_covers_template_sampling_model_and_messages(
    server: FakeOpenAIServer, make_llm: Make, change: dict[str, object]
) -> None:
    base = ChatRequest.of("hello", template="t/v1", sampling=Sampling(0.0, 512))
    make_llm().complete(base)
    model = str(change.get("model", "chat-m"))
    request = ChatRequest.of(
        str(change.get("messages", "hello")),
        template=str(change.get("template", "t/v1")),
        sampling=change.get("sampling", Sampling(0.0, 512)),
    )  # type: ignore[arg-type]
    make_llm(model=model).complete(request)
    assert server.requests == 2
    make_llm(model=model).complete(request)
    assert server.requests == 2


def test_default_sampling_equals_explicit_config_values(server: FakeOpenAIServer, make_llm: Make) -> None:
    make_llm(temperature=0.0, max_tokens=512).complete(ChatRequest.of("hi"))
    make_llm().complete(ChatRequest.of("hi", sampling=Sampling(0.0, 512)))
    assert server.requests == 1


def test_backend_kind_is_part_of_the_key(make_llm: Make) -> None:
    llm = make_llm()
    request = ChatRequest.of("hi")
    key = llm.chat_key(request)
    llm.kind = "llamacpp"
    assert llm.chat_key(request) != key


def test_failure_keeps_received_answers_and_rerun_continues(
    server: FakeOpenAIServer, make_llm: Make, tmp_path: Path
) -> None:
    server.push(*[None] * 6)
    server.fail_always(http_error(500))
    llm = make_llm(stage="edges", concurrency=1, max_retries=2)
    with pytest.raises(RetriesExhausted) as err:
        llm.complete_all(prompts(10))
    assert "stage edges: 6 of 10 answers are cached; run again" in str(err.value)
    assert server.requests == 6 + 3
    with Cache(tmp_path / "cache.sqlite") as cache:
        rows = list(cache.rows())
    assert len(rows) == 6
    assert {r["meta"]["messages"][0]["content"] for r in rows} == {f"item number {i}" for i in range(6)}
    assert all(r["stage"] == "edges" and r["value"]["text"].startswith("echo: item") for r in rows)
    assert (llm.stats.answered, llm.stats.failures, llm.stats.requests, llm.stats.retries) == (6, 1, 9, 2)

    server.fail_always(None)
    server.reset_counts()
    rerun = make_llm(stage="edges")
    results = rerun.complete_all(prompts(10))
    assert server.requests == 4
    assert [r.text for r in results] == [f"echo: item number {i}" for i in range(10)]  # type: ignore[union-attr]
    assert (rerun.stats.cache_hits, rerun.stats.answered) == (6, 4)


def test_answers_are_stored_before_the_caller_sees_them(make_llm: Make, tmp_path: Path) -> None:
    llm = make_llm()
    for outcome in llm.complete_batch(prompts(3)):
        with Cache(tmp_path / "cache.sqlite") as other:  # another connection, as another process would
            assert other.get(llm.chat_key(prompts(3)[outcome.index])) == outcome.result.to_dict()  # type: ignore[union-attr]


def test_tokens_and_cost_against_hand_computed_values(make_llm: Make, tmp_path: Path) -> None:
    # Fake server tokens are words. "item number i" -> 3 prompt, "echo: item number i" -> 4 completion.
    prices = (("chat-m", 2.5, 10.0), ("embed-m", 0.02, 0.0))
    llm = make_llm(stage="edges", prices=prices)
    llm.complete_all(prompts(10))
    llm.embed_all([EmbedRequest("three word text")] * 2 + [EmbedRequest("two words")])
    stats = llm.stats
    assert (stats.prompt_tokens, stats.completion_tokens) == (10 * 3 + 3 + 2, 10 * 4)
    expected = (30 * 2.5 + 40 * 10.0 + 5 * 0.02) / 1e6  # = 0.0004751
    assert stats.cost_usd == pytest.approx(expected, rel=1e-12)
    assert stats.to_dict()["cost_usd"] == 0.000475
    assert stats.progress_text() == (
        "edges 13/13 | 11 sent, 0 retries, 1 cached, 0 failed | tokens 35 in 40 out | $0.0005"
    )
    again = make_llm(stage="edges", prices=prices)
    again.complete_all(prompts(10))
    assert (again.stats.prompt_tokens, again.stats.cost_usd) == (0, 0.0)  # hits cost nothing


def test_accounting_json(tmp_path: Path) -> None:
    accounting = Accounting([("m", 1.0, 2.0)])
    accounting.stage("edges").count_answer("m", Usage(1000, 500), attempts=3)
    accounting.stage("edges").count_hits(4)
    accounting.stage("profiles").count_failure(attempts=2)
    accounting.stage("profiles").count_answer("unpriced", Usage(10, 10), attempts=1)
    out = tmp_path / "run" / "llm_usage.json"
    accounting.write(out)
    data = json.loads(out.read_text())
    assert data["stages"]["edges"]["cost_usd"] == 0.002  # 1000 * 1.0/1M + 500 * 2.0/1M
    assert data["stages"]["edges"]["retries"] == 2
    assert data["total"]["requests"] == 6 and data["total"]["failures"] == 1
    assert data["total"]["prompt_tokens"] == 1010 and data["total"]["cost_usd"] == 0.002


def test_progress_callback_sees_every_answer(make_llm: Make) -> None:
    seen: list[int] = []
    llm = make_llm()
    llm.on_progress = lambda s: seen.append(s.done)
    llm.complete_all(prompts(5))
    assert seen[-1] == 5 and seen == sorted(seen)


class Grouped:
    """A backend answering in scripted groups (all but the last of a group marked `more`), optionally
    failing after a few outcomes; it records how many entries the cache held at each yield."""

    kind, model, embedding_model = "grouped", "g", "g"
    sampling = Sampling(0.0, 16)

    def __init__(self, groups: list[list[int]], cache: Cache, fail_after: int | None = None) -> None:
        self.groups, self.cache, self.fail_after = groups, cache, fail_after
        self.seen_stored: list[int] = []

    def complete_batch(self, requests):  # type: ignore[no-untyped-def]
        from llmrec.llm import ChatResponse, Outcome

        sent = 0
        for group in self.groups:
            for n, i in enumerate(group):
                if self.fail_after is not None and sent == self.fail_after:
                    raise KeyboardInterrupt  # the user pressed Ctrl-C between two outcomes of a group
                sent += 1
                self.seen_stored.append(len(self.cache))
                text = requests[i].messages[-1].content
                yield Outcome(i, ChatResponse(text.upper(), usage=Usage(1, 1)), 1, n < len(group) - 1)

    def endpoint_report(self) -> list[dict[str, object]]:
        return []


def test_answers_that_arrive_together_are_stored_in_one_transaction(tmp_path: Path) -> None:
    from llmrec.llm import CachedLLM
    from llmrec.llm.accounting import StageStats

    cache = Cache(tmp_path / "c.sqlite")
    backend = Grouped([[0, 1, 2], [3], [4, 5]], cache)
    llm = CachedLLM(backend, cache, StageStats("t"))  # type: ignore[arg-type]
    puts: list[int] = []
    put_many = cache.put_many
    cache.put_many = lambda rows, stage="": (puts.append(len(rows)), put_many(rows, stage=stage))[1]  # type: ignore[method-assign]
    for outcome in llm.complete_batch(prompts(6)):
        # stored before it is seen, by another connection
        with Cache(tmp_path / "c.sqlite") as other:
            assert other.get(llm.chat_key(prompts(6)[outcome.index])) is not None
    assert puts == [3, 1, 2]  # one transaction per group
    assert backend.seen_stored == [0, 0, 0, 3, 4, 4]  # nothing of a group is stored before it is complete
    # Ctrl-C in the middle of a group: what was received is stored all the same
    cache2 = Cache(tmp_path / "d.sqlite")
    stopped = CachedLLM(Grouped([[0, 1, 2], [3, 4]], cache2, fail_after=4), cache2, StageStats("t"))  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        list(stopped.complete_batch(prompts(5)))
    assert len(cache2) == 4
