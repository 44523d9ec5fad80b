"""Candidate lists and similar users on toy matrices, checked by hand."""

from __future__ import annotations

import numpy as np
import torch

from llmrec.data.interactions import Interactions
from llmrec.rerank import NO_ITEM, NO_USER, candidate_lists, conventional_top, most_similar_users


def _interactions(pairs: dict[int, list[int]], n_users: int, n_items: int) -> Interactions:
    users = [u for u, items in pairs.items() for _ in items]
    items = [i for its in pairs.values() for i in its]
    return Interactions.from_pairs(
        np.array(users), np.array(items), np.arange(n_users).astype(str), np.arange(n_items).astype(str)
    )


def test_similar_users_by_hand() -> None:
    emb = np.array([[1, 0], [1, 1], [0, 1], [-1, 0], [0.8, 0.2], [-1, 0.1]], dtype=np.float32)
    train = _interactions({0: [0], 1: [1], 2: [2], 3: [], 4: [4], 5: [5]}, 6, 6).user_items
    similar, counts = most_similar_users(emb, train, batch_size=4)  # two batches
    # u0: cos to u1 .707, u2 0, u4 .970 -> u4;  u1: u0 .707, u2 .707, u4 .857 -> u4
    # u2: u0 0, u1 .707, u4 .243 -> u1;  u3 has no history -> none;  u4: u0 .970 -> u0
    # u5 = (-1, .1) would be closest to u3 (.995), who has no history: u2 (.0995) is the best of the rest
    assert similar.tolist() == [4, 4, 1, NO_USER, 0, 2]
    assert counts == {"users": 6, "no_history": 1, "no_similar_user": 1}


def test_a_user_with_no_one_to_compare_with() -> None:
    train = _interactions({0: [0], 1: []}, 2, 2).user_items
    similar, counts = most_similar_users(np.ones((2, 3), dtype=np.float32), train)
    assert similar.tolist() == [NO_USER, NO_USER]
    assert counts["no_similar_user"] == 2 and counts["no_history"] == 1


def test_k_prime_larger_than_the_unseen_catalogue_is_clipped_and_counted() -> None:
    # 5 items scored 5 - i; u0 saw nothing, u1 saw 3 items (2 unseen), u2 saw 4 (1 unseen)
    train = _interactions({0: [], 1: [0, 2, 4], 2: [0, 1, 2, 3]}, 3, 5)
    score = torch.arange(5, 0, -1, dtype=torch.float32)
    base_top = conventional_top(lambda users: score.repeat(len(users), 1), train.user_items, 6)
    assert base_top.shape == (3, 6)
    assert base_top[:, :5].tolist() == [[0, 1, 2, 3, 4], [1, 3, -1, -1, -1], [4, -1, -1, -1, -1]]
    assert (base_top[:, 5] == NO_ITEM).all()
    cands, counts = candidate_lists(base_top, 4)
    assert cands.tolist() == [[0, 1, 2, 3], [1, 3, -1, -1], [4, -1, -1, -1]]
    assert counts == {"candidates_asked": 4, "clipped_to": 4, "short_candidates": 2}
    wide, counts = candidate_lists(base_top, 10)  # wider than the lists themselves
    assert wide.shape == (3, 6) and counts["clipped_to"] == 6 and counts["short_candidates"] == 3
