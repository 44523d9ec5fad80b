"""Reranked lists scored like every other model, alpha chosen on validation, groups by activity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec.data.interactions import Interactions
from llmrec.evaluate import embedding_scorer, evaluate_users
from llmrec.rerank import Llama4RecConfig, choose_alpha, conventional_top, evaluate_lists, report

from ..conftest import block_interactions


def test_base_lists_score_exactly_as_all_ranking_evaluation() -> None:
    rng = np.random.default_rng(0)
    train, valid = block_interactions(rng, 300, 0.2), block_interactions(rng, 60, 0.2)
    valid = valid.with_matrix(valid.user_items - valid.user_items.multiply(train.user_items))
    valid.user_items.eliminate_zeros()
    user_emb, item_emb = torch.randn(30, 8), torch.randn(40, 8)
    scorer = embedding_scorer(user_emb, item_emb, screen=False)
    base_top = conventional_top(lambda users: user_emb[users] @ item_emb.T, train.user_items, 20)
    users, ours = evaluate_lists(base_top, valid, (5, 10, 20))
    their_users, theirs = evaluate_users(scorer, valid, [train], (5, 10, 20))
    assert users.tolist() == their_users.tolist()
    for name in theirs:
        assert ours[name] == pytest.approx(theirs[name]), name


def _population() -> tuple[Interactions, np.ndarray]:
    """Three users with 0, 9 and 99 training items (alpha depths 1, 0.5, 0), each validating item 3."""
    n_items = 200
    valid = Interactions.from_pairs(
        np.array([0, 1, 2]), np.array([3, 3, 3]), np.array(["a", "b", "c"]), np.arange(n_items).astype(str)
    )
    return valid, np.array([0, 9, 99])


def test_alpha_chosen_on_validation_by_hand() -> None:
    valid, n_train = _population()
    candidates = np.array([[0, 1, 2, 3]] * 3)
    order = np.array([[3, 0, 1, 2]] * 3)  # the reranker puts the validation item first
    cfg = Llama4RecConfig(n_candidates=4, ks=(1, 2), select_metric="hit@1")
    # item 3 goes first iff 0.25 + 0.75 a > 1 - 0.25 a, i.e. alpha_u > 0.75: only alpha1 = 0.9 with
    # max(depth, alpha2) > 0.83 gets there; for the users of depth 0.5 and 0 that needs alpha2 = 0.9
    choice = choose_alpha(candidates, order, candidates, valid, n_train, cfg)
    assert (choice.alpha1, choice.alpha2, choice.score, choice.base_score) == (0.9, 0.9, 1.0, 0.0)
    grid = {(g["alpha1"], g["alpha2"]): g["hit@1"] for g in choice.grid}
    assert len(grid) == 25
    assert grid[(0.9, 0.7)] == pytest.approx(1 / 3)  # only the least active user
    assert grid[(0.7, 0.9)] == 0.0  # 0.7 * 1 = 0.7 is not enough for anyone
    assert choice.to_dict()["metric"] == "hit@1"


def test_alpha_ties_go_to_the_smallest_llm_weight() -> None:
    valid, n_train = _population()
    candidates = np.array([[3, 1, 2, 0]] * 3)  # the validation item is the conventional first
    order = np.array([[0, 1, 2, 3]] * 3)
    cfg = Llama4RecConfig(n_candidates=4, ks=(1,), select_metric="hit@1")
    choice = choose_alpha(candidates, order, candidates, valid, n_train, cfg)
    assert (choice.alpha1, choice.alpha2, choice.score) == (0.1, 0.1, 1.0)


def test_report_by_activity_group() -> None:
    valid, n_train = _population()
    lists = np.array([[3, 0], [0, 3], [0, 1]])  # hit at 1, at 2, none
    cfg = Llama4RecConfig(n_candidates=2, ks=(1, 2), activity_groups=3)
    out = report(lists, valid, n_train, cfg)
    assert out["users"] == 3
    assert out["all"]["hit@1"] == pytest.approx(1 / 3) and out["all"]["hit@2"] == pytest.approx(2 / 3)
    groups = out["groups"]
    assert [g["min_interactions"] for g in groups] == [0, 9, 99]
    assert [g["ndcg@2"] for g in groups] == pytest.approx([1.0, 1 / np.log2(3), 0.0])
