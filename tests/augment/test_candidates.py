"""Candidates: top-N by score with training items masked, checked against lists worked out by hand."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.augment.candidates import NO_ITEM, count_candidates, embedding_scorer, top_candidates

SCORES = torch.tensor(
    [
        [0.9, 0.8, 0.7, 0.6, 0.5],  # user 0
        [0.1, 0.5, 0.3, 0.9, 0.2],  # user 1
        [0.5, 0.4, 0.3, 0.2, 0.1],  # user 2
    ]
)


def _exclude(rows: list[list[int]]) -> sp.csr_matrix:
    users = [u for u, items in enumerate(rows) for _ in items]
    items = [i for r in rows for i in r]
    return sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(3, 5))


def test_top_candidates_skip_training_items() -> None:
    exclude = _exclude([[0, 2], [3], [0, 1, 2, 3]])
    got = top_candidates(lambda users: SCORES[users], exclude, 3)
    # user 0: 0 and 2 masked -> 1, 3, 4; user 1: 3 masked -> 1, 2, 4; user 2: only item 4 is left
    assert got.tolist() == [[1, 3, 4], [1, 2, 4], [4, NO_ITEM, NO_ITEM]]
    assert count_candidates(got).tolist() == [3, 3, 1]


def test_batches_give_the_same_answer() -> None:
    exclude = _exclude([[0], [], [4]])
    whole = top_candidates(lambda users: SCORES[users], exclude, 2, batch_size=10)
    single = top_candidates(lambda users: SCORES[users], exclude, 2, batch_size=1)
    assert whole.tolist() == single.tolist() == [[1, 2], [3, 1], [0, 1]]


def test_more_candidates_than_items() -> None:
    got = top_candidates(lambda users: SCORES[users], _exclude([[], [], []]), 7)
    assert got.shape == (3, 7) and got[0].tolist() == [0, 1, 2, 3, 4, NO_ITEM, NO_ITEM]


def test_embedding_scorer_is_a_dot_product() -> None:
    user = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    item = torch.tensor([[1.0, 1.0], [3.0, 0.0], [0.0, 1.0]])
    assert embedding_scorer(user, item)(torch.tensor([1])).tolist() == [[2.0, 0.0, 2.0]]
