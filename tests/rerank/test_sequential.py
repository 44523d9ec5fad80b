"""The sequential task's reranker parts: the ordered prompt, the pick parser, the teacher, insertion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmrec.augment.parsers import ParseError
from llmrec.llm import LLMConfig, open_llm
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.rerank import ItemTexts, Llama4RecConfig
from llmrec.rerank.candidates import NO_ITEM
from llmrec.rerank.sequential import (
    insert_picks,
    parse_pick,
    pick_next,
    recent_matrix,
    rerank_sequences,
    user_prompt,
)

TEXTS = ItemTexts([f"Film {i}" for i in range(6)], [f"Film {i}, Drama" for i in range(6)])
CFG = Llama4RecConfig(n_candidates=3, history_items=2, shuffle_candidates=False, similar_items=0)
# items 0..5 on a circle of title vectors: 0 and 1 close, 3 opposite 0
VECS = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 7)[:6]], dtype=np.float32)


def test_prompt_lists_the_recent_history_in_order() -> None:
    p = user_prompt(np.array([4, 2, 5]), 0, np.array([1, 0, NO_ITEM]), TEXTS, CFG)
    assert "(the last 2 of 3, oldest first):\n1. Film 2\n2. Film 5\n" in p.text
    assert "[A] Film 1, Drama\n[B] Film 0, Drama\n" in p.text and "ranks the candidates: A > B" in p.text
    assert p.ids == ["A", "B"] and p.positions.tolist() == [0, 1]


@pytest.mark.parametrize(
    "answer", ["B", "[B]", "B. Film 0", "[B] Film 0, Drama", "Answer: B", "```\nB\n```", "'B'"]
)
def test_parse_pick_accepts_one_id(answer: str) -> None:
    assert parse_pick(answer, ["A", "B", "C"]) == 1


@pytest.mark.parametrize(
    ("answer", "kind"), [("", "empty"), ("D", "outside"), ("I think the user wants Heat", "prose")]
)
def test_parse_pick_rejects_by_kind(answer: str, kind: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_pick(answer, ["A", "B", "C"])
    assert err.value.kind == kind


def test_recent_matrix_keeps_the_last_items() -> None:
    m = recent_matrix([np.array([0, 1, 2]), np.array([5])], 6, 2)
    assert m.toarray().tolist() == [[0, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 1]]


def test_the_no_llm_teacher_orders_by_closeness_to_the_last_items() -> None:
    # user 0's last two items are 0 and 1: candidate 1... is seen, so among 3, 2, 5 the closest to the
    # mean of items 0 and 1 (angle 30 degrees) is 2 (120) vs 5 (300 = -60), both 90 away: tie keeps
    # the model's order; 3 (180) is 150 away
    top = np.array([[3, 5, 2, 4]])
    result = rerank_sequences([np.array([4, 0, 1])], top, CFG, 2, TEXTS, None, VECS)
    assert result.candidates.tolist() == [[3, 5, 2]]
    assert result.order.tolist() == [[1, 2, 0]] and result.teacher["kind"] == "local"
    picks = pick_next([np.array([4, 0, 1])], top, CFG, 2, None, None, VECS)
    assert picks.items.tolist() == [5] and "no LLM" in picks.teacher["note"]


def _answer(messages: list[dict[str, str]]) -> str:
    """User 0 (history Film 0, Film 1) picks C; user 1 answers prose, and its repair an unknown id."""
    prompt = messages[-1]["content"]
    if "not in the expected format" in prompt:
        return "Z"
    return "C" if "1. Film 0\n2. Film 1" in prompt else "Heat is best"


def test_llm_pick_is_repaired_once_then_counted(tmp_path: Path) -> None:
    seqs = [np.array([0, 1]), np.array([2, 3])]
    top = np.array([[2, 3, 4], [0, 1, 4]])
    with FakeOpenAIServer(answer=_answer, models={"m"}) as server:
        cfg = LLMConfig(backend="openai", model="m", base_url=server.url, cache_path=str(tmp_path / "c.db"))
        llm = open_llm(cfg, {})
        try:
            picks = pick_next(seqs, top, CFG, 2, TEXTS, llm)
        finally:
            llm.close()
    # user 0 picks C = position 2 = item 4; user 1's answer is prose, its repair names no candidate
    assert picks.items.tolist() == [4, NO_ITEM]
    assert picks.outcomes == {"valid": 1, "rejected:prose": 1, "no_pick": 1}
    assert "Which candidate movie would this user most likely watch next?" in _asked(server)


def _asked(server: FakeOpenAIServer) -> str:
    """Every prompt the fake received, joined."""
    return "\n".join(b["messages"][-1]["content"] for b in server.bodies)


def test_insertion_positions_are_seeded_and_skip_users_without_a_pick() -> None:
    seqs = [np.array([0, 1, 2]), np.array([3])]
    a, where = insert_picks(seqs, np.array([5, NO_ITEM]), seed=1)
    b, again = insert_picks(seqs, np.array([5, NO_ITEM]), seed=1)
    assert where.tolist() == again.tolist() and where[1] == -1 and 0 <= where[0] <= 3
    assert a[0].tolist() == np.insert(seqs[0], where[0], 5).tolist() and a[1].tolist() == [3]
    spread = {int(insert_picks([np.arange(9)], np.array([9]), seed=s)[1][0]) for s in range(40)}
    assert len(spread) > 5  # positions spread over the sequence, not always the end
