"""Candidates: each user's top-N items of a trained base model, the user's training items excluded."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.topk import mask_seen

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
        rows = np.arange(start, min(start + batch_size, n_users))
        with torch.no_grad():
            scores = score(torch.from_numpy(rows)).detach().to(torch.float32).clone()
        values, items = torch.topk(mask_seen(scores, rows, exclude), k, dim=1)
        items[torch.isneginf(values)] = NO_ITEM  # an excluded item only fills a row that ran out of items
        out[start : start + len(rows), :k] = items.numpy()
    return out


def count_candidates(candidates: np.ndarray) -> np.ndarray:
    """Number of real candidates in each row."""
    return (candidates != NO_ITEM).sum(axis=1)
