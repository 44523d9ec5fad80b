"""Real models' answers to the probe's questions, read by llmrec's parsers.

The fixtures are what Qwen2.5-Coder 0.5B and 1.5B Instruct (Q4_K_M GGUF, llama.cpp on this CPU) answered
to `llmrec teacher probe` on ML-100K, exported from the LLM cache by benchmarks/real_answers.py. Each
answer is parsed afresh here, so a parser change that stops accepting what real models write fails
this test; the counts are the ones BENCHMARKS.md and docs/teacher.md state.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from llmrec.augment.outcomes import answer_outcome
from llmrec.augment.parsers import parse_attributes, parse_pair
from llmrec.augment.pointwise import yes_score
from llmrec.llm import ChatResponse

FIXTURES = Path(__file__).parents[1] / "fixtures" / "real_answers"


def outcomes(name: str) -> dict[str, Counter[str]]:
    """Per question kind (first asks only), the parse outcome of every saved answer."""
    table: dict[str, Counter[str]] = {}
    for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if not row["repair"]:
            outcome = answer_outcome(row["kind"], row["text"], row["first_token_logprobs"])
            table.setdefault(row["kind"], Counter())[outcome] += 1
    return table


def test_the_answers_as_a_person_reads_them() -> None:
    """The forms the two models used, read by hand: the 0.5B model's constant pick "1::10", its bare
    JSON, the 1.5B model's fenced JSON with a list or "unknown", and yes / no in either case."""
    director = ("director",)
    assert parse_pair("1::10", 10) == (1, 10)
    assert parse_attributes('{\n  "director": "George Lucas"\n}', director) == {"director": "George Lucas"}
    fenced = '```json\n{\n  "director": ["John Ford"]\n}\n```'
    assert parse_attributes(fenced, director) == {"director": "John Ford"}
    assert parse_attributes(fenced.replace('["John Ford"]', '"unknown"'), director) == {"director": None}
    assert yes_score(ChatResponse("yes")) == (1.0, "text") and yes_score(ChatResponse("No")) == (0.0, "text")


@pytest.mark.parametrize("name", ["qwen2.5-coder-0.5b.jsonl", "qwen2.5-coder-1.5b.jsonl"])
def test_real_answers_parse(name: str) -> None:
    table = outcomes(name)
    assert table, f"no answers in {name}"
    for kind, counts in table.items():
        parsed = sum(n for outcome, n in counts.items() if outcome.startswith("parsed"))
        assert parsed / sum(counts.values()) >= 0.95, (kind, dict(counts))  # the bar


def test_the_counts_stated_in_the_docs() -> None:
    """docs/teacher.md: 0.5B 15 listwise, 120 pointwise, 20 attribute answers, every one parsed (its
    pointwise answers all "No"); 1.5B 50 pointwise (40 yes, 10 no) and 20 attribute answers."""
    small, large = outcomes("qwen2.5-coder-0.5b.jsonl"), outcomes("qwen2.5-coder-1.5b.jsonl")
    assert small == {
        "attributes": {"parsed": 20},
        "listwise": {"parsed": 15},
        "pointwise": {"parsed (text)": 120},
    }
    assert large == {"attributes": {"parsed": 20}, "pointwise": {"parsed (text)": 50}}
    said = Counter(
        json.loads(line)["text"].strip().lower()
        for line in (FIXTURES / "qwen2.5-coder-1.5b.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["kind"] == "pointwise"
    )
    assert said == {"yes": 40, "no": 10}
