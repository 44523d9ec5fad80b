"""Candidates: each user's top-N items of a trained base model, the user's training items excluded."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

NO_ITEM = -1  # pads a row of a user with fewer unexcluded items than asked for


def top_candidates(
    score: Callable[[torch.Tensor], torch.Tensor],
    exclude: sp.csr_matrix,
    n: int,
    batch_size: int = 1024,
) -> np.ndarray:
    """[n_users, n] item indices by descending score; `exclude`'s items never appear; NO_ITEM pads.

    `score(users)` gives the [len(users), n_items] scores of a batch of users (a model's `score`).
    """
    n_users, n_items = exclude.shape
    out = np.full((n_users, n), NO_ITEM, dtype=np.int64)
    k = min(n, n_items)
    for start in range(0, n_users, batch_size):
        users = torch.arange(start, min(start + batch_size, n_users))
        with torch.no_grad():
            scores = score(users).detach().to(torch.float32).clone()
        block = exclude[start : start + len(users)].tocoo()
        scores[
            torch.from_numpy(block.row.astype(np.int64)), torch.from_numpy(block.col.astype(np.int64))
        ] = -torch.inf
        values, items = torch.topk(scores, k, dim=1)
        items[torch.isneginf(values)] = NO_ITEM  # an excluded item only fills a row that ran out of items
        out[start : start + len(users), :k] = items.numpy()
    return out


def embedding_scorer(
    user_emb: torch.Tensor, item_emb: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Scores as dot products of user and item embeddings."""
    return lambda users: user_emb[users] @ item_emb.T


def count_candidates(candidates: np.ndarray) -> np.ndarray:
    """Number of real candidates in each row."""
    return (candidates != NO_ITEM).sum(axis=1)
