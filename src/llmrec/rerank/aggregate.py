"""Adaptive aggregation (Llama4Rec, Eqs. 5-6): merge the reranker's and the conventional model's orders.

On a user's k' candidates, U(i) = alpha_u * U_LLM(i) + (1 - alpha_u) * U_Rec(i), where each utility is a
function of the item's 0-based rank r in that model's order:

    linear  U = (k' - r) / k'       (1 for the first, 1/k' for the last)
    log     U = 1 / log2(r + 2)     (DCG's discount: 1, 0.63, 0.5, ...)

The long-tail coefficient is l_u = log(N(u) + 1) with N(u) the user's training interactions, and

    alpha_u = alpha1 * max((l_max - l_u) / (l_max - l_min), alpha2)

over all users of the training matrix, so alpha_u falls from alpha1 (the least active user) to
alpha1 * alpha2 (the most active ones): the LLM weighs most for users deep in the long tail, as the
paper describes (Sec. 4.4: "the fewer items they have interacted with, the lower is the value of
l_u and the higher is the value of alpha_u"). The paper's own U_Rec = -s * C (s the 1-based
position, C = 1) is the linear utility up to a positive affine map, applied to both models alike, so
it merges identically. Ties in U keep the conventional order. Items outside the candidates follow in the
conventional order, so the merged lists rank the same items as the base model's and all-ranking
metrics stay comparable with every other model.
"""

from __future__ import annotations

import numpy as np

from llmrec.rerank.candidates import NO_ITEM


def utility(ranks: np.ndarray, k: int, kind: str) -> np.ndarray:
    """The utility of 0-based ranks among `k` candidates (see the module docstring)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if kind == "linear":
        return (k - ranks) / k
    if kind == "log":
        return 1.0 / np.log2(ranks + 2.0)
    raise ValueError(f"unknown utility {kind!r}; valid: linear, log")


def long_tail(n_train: np.ndarray) -> np.ndarray:
    """l_u = log(N(u) + 1) of each user's number of training interactions."""
    return np.log(np.asarray(n_train, dtype=np.float64) + 1.0)


def adaptive_alpha(n_train: np.ndarray, alpha1: float, alpha2: float, cutoff: str = "inside") -> np.ndarray:
    """alpha_u of every user: alpha1 * max(depth_u, alpha2), depth_u = (l_max - l_u) / (l_max - l_min).

    `cutoff="outside"` gives the other reading of the paper's Eq. 7, max(alpha1 * depth_u, alpha2).
    l_min and l_max are taken over all users in `n_train`; when every user has as many interactions
    (l_max = l_min) nobody is further in the tail than anyone else: depth_u = 0 for all.
    """
    tail = long_tail(n_train)
    low, high = float(tail.min()), float(tail.max())
    depth = (high - tail) / (high - low) if high > low else np.zeros_like(tail)
    if cutoff == "inside":
        return alpha1 * np.maximum(depth, alpha2)
    if cutoff == "outside":
        return np.maximum(alpha1 * depth, alpha2)
    raise ValueError(f"unknown cutoff {cutoff!r}; valid: inside, outside")


def aggregate(candidates: np.ndarray, order: np.ndarray, alpha: np.ndarray, kind: str) -> np.ndarray:
    """[n_users, k'] candidates re-sorted by alpha_u U_LLM + (1 - alpha_u) U_Rec (NO_ITEM padding last).

    `candidates[u]` is in conventional order (rank = column); `order[u]` lists conventional positions
    in the reranker's order (-1 padding), so the reranker's rank of position p is where p sits in it.
    """
    n_users, k = candidates.shape
    real = candidates != NO_ITEM
    llm_rank = np.full((n_users, k), k, dtype=np.int64)  # padding ranks last; masked out below anyway
    rows, cols = np.nonzero(order >= 0)
    llm_rank[rows, order[rows, cols]] = cols
    rec_rank = np.broadcast_to(np.arange(k), (n_users, k))
    a = np.asarray(alpha, dtype=np.float64)[:, None]
    score = a * utility(llm_rank, k, kind) + (1.0 - a) * utility(rec_rank, k, kind)
    score = np.where(real, np.round(score, 12), -np.inf)  # rounded: ties are ties, not float noise
    merged = np.argsort(-score, axis=1, kind="stable")  # stable: ties keep the conventional order
    return np.take_along_axis(candidates, merged, axis=1)


def merge_lists(merged: np.ndarray, base_top: np.ndarray, length: int) -> np.ndarray:
    """[n_users, length] final lists: the merged candidates, then the base lists' items after them.

    `base_top[u]` is the conventional ranking whose first k' items are `merged[u]`'s candidates; a
    user whose candidates were clipped has NO_ITEM there, which stays at the end.
    """
    lists = np.concatenate([merged, base_top[:, merged.shape[1] :]], axis=1)[:, :length]
    if lists.shape[1] < length:
        raise ValueError(f"lists of {length} items asked for; the base lists hold {base_top.shape[1]}")
    return np.ascontiguousarray(lists)
