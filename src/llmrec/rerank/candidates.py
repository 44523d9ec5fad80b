"""What the reranker starts from: the conventional model's ranked lists and each user's most similar user.

`base_top` is the conventional model's ranking of each user's unseen items, cut to the length the
evaluation needs; its first k' columns are the candidates. A user with fewer unseen items than k' gets
a shorter list (padded with NO_ITEM) and is counted rather than refused: one heavy user should not
stop a run, and the clipped list is exactly what all-ranking evaluation would rank for that user.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.augment.candidates import NO_ITEM, count_candidates, top_candidates

NO_USER = -1  # the similar user of a user without training history


def conventional_top(
    score: Callable[[torch.Tensor], torch.Tensor], exclude: sp.csr_matrix, n: int, batch_size: int = 1024
) -> np.ndarray:
    """[n_users, n] unseen items by descending conventional score; `exclude`'s items never appear.

    `exclude` is train when ranking for validation and train + valid when ranking for test, the
    masks `llmrec.evaluate` uses, so the lists are the ones all-ranking evaluation scores.
    """
    return top_candidates(score, exclude.tocsr(), n, batch_size)


def candidate_lists(base_top: np.ndarray, k: int) -> tuple[np.ndarray, dict[str, int]]:
    """The first `k` columns of `base_top` (NO_ITEM-padded) and how many users got fewer than `k`.

    `k` larger than `base_top` is wide is clipped to its width (counted in `clipped_to`).
    """
    width = min(k, base_top.shape[1])
    cands = np.ascontiguousarray(base_top[:, :width])
    n_real = count_candidates(cands)
    counts = {
        "candidates_asked": k,
        "clipped_to": width,
        "short_candidates": int((n_real < k).sum()),  # fewer unseen items than k'
    }
    return cands, counts


def most_similar_users(
    user_emb: np.ndarray, train: sp.csr_matrix, batch_size: int = 1024
) -> tuple[np.ndarray, dict[str, int]]:
    """Each user's most cosine-similar other user with training history, and the counts.

    Users without training history get NO_USER and are never anyone's similar user (they have no
    history to show). Ties go to the lower index; an all-zero embedding has cosine 0 with everyone.
    """
    emb = np.asarray(user_emb, dtype=np.float32)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    unit = emb / np.maximum(norms, 1e-12)
    has_history = np.diff(train.indptr) > 0
    n_users = emb.shape[0]
    similar = np.full(n_users, NO_USER, dtype=np.int64)
    for start in range(0, n_users, batch_size):
        rows = np.arange(start, min(start + batch_size, n_users))
        sims = unit[rows] @ unit.T
        sims[:, ~has_history] = -np.inf
        sims[np.arange(len(rows)), rows] = -np.inf  # never oneself
        best = np.argmax(sims, axis=1)
        found = np.isfinite(sims[np.arange(len(rows)), best])
        similar[rows] = np.where(found, best, NO_USER)
    similar[~has_history] = NO_USER
    counts = {
        "users": n_users,
        "no_history": int((~has_history).sum()),
        "no_similar_user": int((similar == NO_USER).sum()),
    }
    return similar, counts


__all__ = ["NO_ITEM", "NO_USER", "candidate_lists", "conventional_top", "most_similar_users"]
