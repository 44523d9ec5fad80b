"""The no-LLM reranker and pair judge: text-embedding similarity, labelled as such in every output.

They let the whole path (candidates, ranking, aggregation, alpha selection, pair augmentation) run
offline, and they are the bar an LLM has to clear: an LLM ranking that does no better than cosine
similarity of item descriptions is not worth its cost.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from llmrec.rerank.candidates import NO_ITEM, NO_USER

LOCAL_RERANKER = {
    "kind": "local",
    "note": (
        "no LLM was used: candidates are ordered by the cosine similarity of their text vectors to the "
        "mean vector of the user's training items, plus a weight times that to the most similar user's"
    ),
}
LOCAL_PAIRS = {
    "kind": "local",
    "note": (
        "no LLM was used: of each pair, the item whose text vector is closer (cosine) to the mean vector "
        "of the user's training items is the preferred one"
    ),
}


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """`vectors` with every non-zero row scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def history_vectors(train: sp.csr_matrix, item_vecs: np.ndarray) -> np.ndarray:
    """[n_users, d] unit vectors of each user's training items' mean text vector (zero: no history)."""
    return unit_rows(np.asarray(train @ unit_rows(item_vecs)))  # the sum has the mean's direction


def local_orders(
    train: sp.csr_matrix,
    candidates: np.ndarray,
    similar: np.ndarray,
    item_vecs: np.ndarray,
    similar_weight: float,
    batch_size: int = 2048,
) -> np.ndarray:
    """[n_users, k'] conventional positions ordered by cos(item, own history) + w cos(item, similar's).

    Ties keep the conventional order; NO_ITEM padding stays last, as -1. A user without a similar user
    is ordered by their own history alone; one without history keeps the conventional order.
    """
    hist = history_vectors(train, item_vecs)
    unit = unit_rows(item_vecs)
    real = candidates != NO_ITEM
    scores = np.full(candidates.shape, -np.inf)
    for start in range(0, len(candidates), batch_size):  # [batch, k', d] candidate vectors at a time
        rows = slice(start, start + batch_size)
        sim = similar[rows]
        target = hist[rows] + similar_weight * np.where(
            (sim != NO_USER)[:, None], hist[np.maximum(sim, 0)], 0
        )
        vecs = unit[np.where(real[rows], candidates[rows], 0)]
        # rounded, so that float noise never breaks a tie (ties keep the conventional order)
        scores[rows] = np.where(real[rows], np.round(np.einsum("ud,ukd->uk", target, vecs), 6), -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.where(np.take_along_axis(real, order, axis=1), order, -1).astype(np.int64)


def local_preferences(
    train: sp.csr_matrix, users: np.ndarray, first: np.ndarray, second: np.ndarray, item_vecs: np.ndarray
) -> np.ndarray:
    """1 where `second[k]` is closer than `first[k]` to user `users[k]`'s history, else 0 (ties: first)."""
    hist = history_vectors(train, item_vecs)[users]
    vecs = unit_rows(item_vecs)
    a = np.round(np.einsum("kd,kd->k", hist, vecs[first]), 6)
    b = np.round(np.einsum("kd,kd->k", hist, vecs[second]), 6)
    return (b > a).astype(np.int64)
