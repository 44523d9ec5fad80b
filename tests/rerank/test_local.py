"""The no-LLM reranker and pair judge on vectors whose cosines are computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data.interactions import Interactions
from llmrec.rerank import LOCAL_RERANKER, NO_ITEM, NO_USER, Llama4RecConfig, local_orders, rerank_users
from llmrec.rerank.local import local_preferences

# i0 = (1, 0), i1 = (0, 1), i2 = (.6, .8), i3 = (.8, .6), i4 = (-1, 0)
VECS = np.array([[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6], [-1, 0]], dtype=np.float32)


def _train() -> Interactions:
    """u0 liked i0, u1 liked i1, u2 nothing."""
    return Interactions.from_pairs(
        np.array([0, 1]), np.array([0, 1]), np.array(["u0", "u1", "u2"]), np.arange(5).astype(str)
    )


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        # target (1, 0): cos i1 0, i2 .6, i3 .8, i4 -1 -> positions 2, 1, 0, 3
        (0.0, [2, 1, 0, 3]),
        # target (1, .5): i1 .5, i2 1.0, i3 1.1, i4 -1 -> 2, 1, 0, 3
        (0.5, [2, 1, 0, 3]),
        # target (1, 2): i1 2.0, i2 2.2, i3 2.0, i4 -1 -> 1, then the tie 0 / 2 in conventional order, 3
        (2.0, [1, 0, 2, 3]),
    ],
)
def test_order_by_similarity_to_own_and_similar_users_history(weight: float, expected: list[int]) -> None:
    candidates = np.array([[1, 2, 3, 4], [0, 2, 3, NO_ITEM], [0, 1, 2, 3]])
    order = local_orders(_train().user_items, candidates, np.array([1, 0, NO_USER]), VECS, weight)
    assert order[0].tolist() == expected
    # u1 (history i1, similar u0): target (w, 1): i0 w, i2 .6w + .8, i3 .8w + .6; padding stays last
    assert order[1, 3] == -1
    assert order[2].tolist() == [0, 1, 2, 3]  # no history, no similar user: conventional order


def test_rerank_users_without_an_llm_is_labelled() -> None:
    train = _train()
    base_top = np.array([[1, 2, 3, 4], [0, 2, 3, 4], [0, 1, 2, 3]])
    emb = np.array([[1, 0], [1, 0.1], [0, 1]], dtype=np.float32)  # u0 and u1 are each other's similar user
    cfg = Llama4RecConfig(n_candidates=4, local_similar_weight=2.0, ks=(1,), select_metric="hit@1")
    result = rerank_users(train, base_top, emb, cfg, item_vecs=VECS)
    assert result.teacher == LOCAL_RERANKER and "no LLM was used" in result.teacher["note"]
    assert result.similar.tolist() == [1, 0, NO_USER]  # u2 has no history: no similar user
    assert result.order[0].tolist() == [1, 0, 2, 3]
    assert result.reranked.tolist() == [True, True, False]
    assert result.reranker_lists(cfg)[0].tolist() == [2, 1, 3, 4]


def test_pair_judge_prefers_the_item_closer_to_the_history() -> None:
    # u0's history is (1, 0): i3 (.8) beats i2 (.6); i4 (-1) loses to i1 (0); a tie goes to the first
    choice = local_preferences(_train().user_items, np.array([0, 0, 0]), np.array([2, 4, 0]),
                               np.array([3, 1, 0]), VECS)  # fmt: skip
    assert choice.tolist() == [1, 1, 0]
