"""Pair augmentation: draws, the LLM's choices through a scripted server, and the local judge."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from llmrec.data.interactions import Interactions
from llmrec.llm import LLMConfig, StageStats, open_llm
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.rerank import LOCAL_PAIRS, Llama4RecConfig, draw_pairs, pair_augmentation

from .conftest import toy_texts

# user -> (first answer, repair answer)
ANSWERS = {
    0: ("A",),
    1: ("B.",),
    2: ("Both are good.", "B"),  # prose, repaired
    3: ("A or B", "A and B"),  # ambiguous twice: dropped
    4: ('{"preferred": "A"}',),
    5: ("用户会更喜欢第一个", "A"),  # another language, repaired
    6: ("C", "C"),  # no such option twice: dropped
    7: ("[B]",),
}


def answer(messages: list[dict[str, str]]) -> str:
    user = int(re.search(r"^- Film (\d+)", messages[1]["content"], re.MULTILINE).group(1)) - 4  # type: ignore[union-attr]
    answers = ANSWERS[user]
    return answers[min(len(messages) // 2 - 1, len(answers) - 1)]


def test_draws_are_distinct_seeded_and_from_the_candidates(train: Interactions) -> None:
    candidates = np.array([[0, 1, 2, 3]] * 7 + [[0, -1, -1, -1]])
    users, first, second = draw_pairs(train, candidates, 3, seed=1)
    assert users.tolist() == [u for u in range(7) for _ in range(3)]  # u7 has one candidate: no pair
    pairs = [frozenset(p) for p in zip(first, second, strict=True)]
    assert all(len(p) == 2 and p <= {0, 1, 2, 3} for p in pairs)
    assert all(len(set(pairs[3 * u : 3 * u + 3])) == 3 for u in range(7))  # distinct within a user
    again = draw_pairs(train, candidates, 3, seed=1)
    assert [a.tolist() for a in again] == [users.tolist(), first.tolist(), second.tolist()]
    assert draw_pairs(train, candidates, 10, seed=1)[0].tolist().count(0) == 6  # all 6 pairs of 4


def test_unseen_pairs_are_disjoint_and_never_training_items(train: Interactions) -> None:
    users, first, second = draw_pairs(train, np.zeros((8, 0), dtype=np.int64), 3, seed=1, source="unseen")
    assert users.tolist() == [u for u in range(8) for _ in range(3)]
    for u in range(8):
        items = np.concatenate([first[users == u], second[users == u]])
        assert len(set(items.tolist())) == 6 and 4 + u not in items  # 4 + u is the user's training item
    with pytest.raises(ValueError, match="unknown pair source"):
        draw_pairs(train, np.zeros((8, 0), dtype=np.int64), 1, seed=1, source="popular")


def test_llm_pairs_become_triples_and_invalid_answers_never_do(
    tmp_path: Path, train: Interactions, cfg: Llama4RecConfig
) -> None:
    candidates = np.array([[0, 1, 2, 3]] * 8)
    users, first, second = draw_pairs(train, candidates, 1, cfg.seed)
    with FakeOpenAIServer(answer=answer) as server:
        llm_cfg = LLMConfig(base_url=server.url, model="m", cache_path=str(tmp_path / "c.sqlite"))
        stats = StageStats("pairs")
        result = pair_augmentation(
            train, candidates, cfg, toy_texts(), open_llm(llm_cfg, {}, stats), stats=stats
        )
        assert server.requests == 8 + 4
    # A wins for u0, u4, u5; B for u1, u2, u7; u3 and u6 dropped
    winner_is_b = {0: False, 1: True, 2: True, 4: False, 5: False, 7: True}
    assert result.users.tolist() == sorted(winner_is_b)
    for u, pos, neg in zip(*result.triples(), strict=True):
        a, b = first[u], second[u]
        assert (pos, neg) == ((b, a) if winner_is_b[int(u)] else (a, b))
    assert result.pos.dtype == np.int64 and result.teacher["kind"] == "llm"
    audit = result.audit
    assert audit["pairs"] == 8 and audit["usable"] == 6 and audit["repairs_asked"] == 4
    assert audit["rejected_first_answers"] == {"ambiguous": 1, "language": 1, "prose": 2}
    assert (audit["repaired"], audit["invalid_after_repair"]) == (2, 2)
    assert len(result.samples) == cfg.audit_samples


def test_local_pairs_are_labelled(train: Interactions) -> None:
    vecs = np.eye(12, dtype=np.float32)
    vecs[1] = vecs[4] + vecs[1]  # item 1 looks like u0's history item (4); the others are orthogonal to it
    cfg = Llama4RecConfig(n_candidates=4, pairs_per_user=6)  # all 6 pairs of 4 candidates
    result = pair_augmentation(train, np.array([[0, 1, 2, 3]] * 8), cfg, item_vecs=vecs)
    assert result.teacher == LOCAL_PAIRS and result.audit == {"pairs": 48, "users": 8, "usable": 48}
    users, first, second = draw_pairs(train, np.array([[0, 1, 2, 3]] * 8), 6, cfg.seed)
    mine = users == 0
    # item 1 wins each of its 3 pairs (cos .71 against 0); the other pairs tie at 0: the first shown wins
    pairs = zip(first[mine].tolist(), second[mine].tolist(), strict=True)
    expected = [(1, b if a == 1 else a) if 1 in (a, b) else (a, b) for a, b in pairs]
    assert list(zip(result.pos[mine].tolist(), result.neg[mine].tolist(), strict=True)) == expected


def test_the_local_judge_needs_vectors(train: Interactions, cfg: Llama4RecConfig) -> None:
    with pytest.raises(ValueError, match="needs item text vectors"):
        pair_augmentation(train, np.array([[0, 1, 2, 3]] * 8), cfg)
