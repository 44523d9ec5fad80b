"""The bounded repair re-ask: one follow-up quoting the invalid answer, never a second."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from llmrec.llm import CachedLLM, ChatRequest, parse_with_repair, repair, repair_request
from llmrec.llm.testing import FakeOpenAIServer

Make = Callable[..., CachedLLM]
FORMAT = "a JSON list of integers, e.g. [3, 14]"


def parse_ids(text: str) -> list[int]:
    """Parser under test: a JSON list of ints, else ValueError with the reason."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise ValueError("not a list of integers")
    return value


def scripted(messages: list[dict[str, str]]) -> str:
    """Valid answers for 'good' prompts; garbage first, then valid for 'fixable'; garbage for 'hopeless'."""
    first = messages[0]["content"]
    repaired = len(messages) > 1
    if first.startswith("good"):
        return "[1, 2]"
    if first.startswith("fixable"):
        return "[7]" if repaired else "Sure! The items are 7."
    return "I cannot comply"


def test_repair_request_quotes_answer_and_keeps_turns_alternating() -> None:
    original = ChatRequest.of(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}], template="edges/v2"
    )
    follow = repair_request(original, "Sure! 7", "not JSON", FORMAT)
    assert [m.role for m in follow.messages] == ["system", "user", "assistant", "user"]
    assert follow.messages[2].content == "Sure! 7"
    assert "<<<\nSure! 7\n>>>" in follow.messages[3].content
    assert "not JSON" in follow.messages[3].content and FORMAT in follow.messages[3].content
    assert follow.template == "edges/v2+repair/v1"
    with pytest.raises(ValueError, match="at most one repair"):
        repair_request(follow, "still bad", "not JSON", FORMAT)


def test_long_answers_are_quoted_clipped() -> None:
    follow = repair_request(ChatRequest.of("q"), "x" * 5000, "too long", FORMAT)
    assert "x" * 2000 + " [...]" in follow.messages[-1].content
    assert follow.messages[-2].content == "x" * 5000


def test_parse_with_repair_asks_once_per_invalid_answer(server: FakeOpenAIServer, make_llm: Make) -> None:
    server.answer = scripted
    llm = make_llm()
    requests = [ChatRequest.of(p, template="ids/v1") for p in ["good 1", "fixable 2", "hopeless 3", "good 4"]]
    answers = llm.complete_all(requests)
    parsed = parse_with_repair(llm, requests, answers, parse_ids, FORMAT, llm.stats)
    assert parsed == [[1, 2], [7], None, [1, 2]]
    assert server.requests == 4 + 2  # one follow-up each for 'fixable' and 'hopeless', no more
    repairs = [b for b in server.bodies if len(b["messages"]) > 1]
    assert {b["messages"][0]["content"] for b in repairs} == {"fixable 2", "hopeless 3"}
    assert (llm.stats.repairs, llm.stats.invalid) == (2, 1)

    rerun = make_llm()  # repairs are cached like everything else
    again = parse_with_repair(rerun, requests, rerun.complete_all(requests), parse_ids, FORMAT)
    assert again == parsed and server.requests == 6


def test_single_repair_helper(server: FakeOpenAIServer, make_llm: Make) -> None:
    server.answer = scripted
    request = ChatRequest.of("fixable 9")
    first = make_llm().complete(request)
    second = repair(make_llm(), request, first.text, "not JSON", FORMAT)
    assert parse_ids(second.text) == [7]
