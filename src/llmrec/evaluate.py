"""Batched all-ranking evaluation: score every item, mask seen ones, take the top K, count hits.

Definitions (per evaluated user u with held-out items T_u, top-K list L_u, hits h_i = [L_u[i] in T_u]):
  recall@K    = sum_i h_i / |T_u|
  precision@K = sum_i h_i / K
  ndcg@K      = sum_i h_i / log2(i + 2)  divided by  sum_{i < min(K, |T_u|)} 1 / log2(i + 2)
  hit@K       = 1 if any h_i else 0
  mrr@K       = 1 / (1 + index of the first hit), 0 without a hit
Each metric is averaged over the users with at least one held-out item (the LightGCN reference
protocol). Items the user interacted with in the masked parts (train; train and valid at test
time) are excluded from ranking.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numba
import numpy as np
import scipy.sparse as sp
import torch

from llmrec.data.interactions import Interactions
from llmrec.models.base import Embedder, Scorer, capabilities_of
from llmrec.topk import ScreenedTopK, mask_seen, worth_screening

METRICS = ("recall", "ndcg", "precision", "hit", "mrr")


def metrics_from_hits(
    hits: torch.Tensor, n_truth: torch.Tensor, ks: Sequence[int]
) -> dict[str, torch.Tensor]:
    """Per-user metric values from a [B, max(ks)] 0/1 hit matrix and [B] held-out counts."""
    hits = hits.float()
    n_truth = n_truth.float()
    discounts = 1.0 / torch.log2(torch.arange(2, hits.shape[1] + 2, dtype=torch.float32))
    out: dict[str, torch.Tensor] = {}
    for k in ks:
        h = hits[:, :k]
        n_hits = h.sum(1)
        dcg = (h * discounts[:k]).sum(1)
        ideal_len = torch.clamp(n_truth, max=min(k, hits.shape[1])).long()
        idcg = torch.cumsum(discounts[:k], 0)[(ideal_len - 1).clamp(min=0)]
        first = torch.where(h.any(1), h.argmax(1).float() + 1.0, torch.full_like(n_hits, float("inf")))
        out[f"recall@{k}"] = n_hits / n_truth
        out[f"precision@{k}"] = n_hits / k
        out[f"ndcg@{k}"] = torch.where(ideal_len > 0, dcg / idcg, torch.zeros_like(dcg))
        out[f"hit@{k}"] = (n_hits > 0).float()
        out[f"mrr@{k}"] = 1.0 / first
    return out


def topk_unseen(
    scores: torch.Tensor, rows: np.ndarray, exclude: sp.csr_matrix | None, k: int
) -> torch.Tensor:
    """Indices of the k best items per row after setting excluded (seen) items to -inf."""
    return torch.topk(mask_seen(scores, rows, exclude), k, dim=1).indices


def hits_of(top: torch.Tensor, truth: sp.csr_matrix, rows: np.ndarray) -> torch.Tensor:
    """[B, K] booleans: whether top[b, i] is a held-out item of user rows[b] in `truth`.

    A binary search of each listed item in its user's sorted held-out items (a numba kernel, parallel
    over users), where a dense [B, n_items] mask would allocate and clear B * n_items bytes per batch.
    """
    if not truth.has_sorted_indices:
        truth = truth.sorted_indices()
    hits = np.zeros(tuple(top.shape), dtype=np.bool_)
    top_np = np.ascontiguousarray(top.numpy(), dtype=np.int64)
    _hits(top_np, truth.indptr, truth.indices, np.ascontiguousarray(rows, dtype=np.int64), hits)
    return torch.from_numpy(hits)


@numba.njit(parallel=True, cache=True)
def _hits(top, indptr, indices, rows, hits):  # type: ignore[no-untyped-def]
    """hits[b, i] = top[b, i] in indices[indptr[rows[b]]:indptr[rows[b] + 1]] (sorted)."""
    for b in numba.prange(top.shape[0]):
        own = indices[indptr[rows[b]] : indptr[rows[b] + 1]]
        if own.shape[0] == 0:
            continue
        for i in range(top.shape[1]):
            pos = np.searchsorted(own, top[b, i])
            hits[b, i] = pos < own.shape[0] and own[pos] == top[b, i]


def evaluate(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    truth: Interactions,
    exclude: Sequence[Interactions] = (),
    ks: Sequence[int] = (10, 20, 50),
    batch_size: int = 2048,
    progress: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Mean metrics over users with held-out items in `truth`.

    `score_fn(users)` returns [len(users), n_items] scores; `exclude` are the interactions to mask
    (train, and valid when testing). `progress(n)` is called with the number of users done.
    """
    _, values = evaluate_users(score_fn, truth, exclude, ks, batch_size, progress)
    return {name: float(v.mean(dtype=np.float64)) for name, v in values.items()}


def evaluate_users(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    truth: Interactions,
    exclude: Sequence[Interactions] = (),
    ks: Sequence[int] = (10, 20, 50),
    batch_size: int = 2048,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The evaluated users (those with held-out items) and each metric's value for each of them."""
    users = truth.active_users()
    if len(users) == 0:
        raise ValueError("no user has a held-out item to evaluate")
    masked = None
    for part in exclude:
        masked = part.user_items if masked is None else masked + part.user_items
    masked = masked.tocsr() if masked is not None else None
    max_k = min(max(ks), truth.n_items)
    hits: list[torch.Tensor] = []
    with torch.no_grad():
        for start in range(0, len(users), batch_size):
            rows = users[start : start + batch_size]
            if isinstance(score_fn, EmbeddingScorer):
                top = score_fn.top_unseen(rows, masked, max_k)
            else:
                top = topk_unseen(score_fn(torch.from_numpy(rows)).float(), rows, masked, max_k)
            hits.append(hits_of(top, truth.user_items, rows))
            if progress is not None:
                progress(len(rows))
    n_truth = torch.from_numpy(np.diff(truth.user_items.indptr)[users])
    values = metrics_from_hits(torch.cat(hits), n_truth, ks)  # once: small ops cost per call
    return users, {name: v.numpy() for name, v in values.items()}


def group_means(
    users: np.ndarray, values: dict[str, np.ndarray], activity: np.ndarray, n_groups: int
) -> list[dict[str, Any]]:
    """Metric means over `n_groups` equal-size groups of `users`, from least to most active.

    `activity` holds every user's number of training interactions (indexed by user); ties at a group
    border are split by user index, so group sizes differ by at most one.
    """
    order = np.lexsort((users, activity[users]))
    groups = []
    for i, part in enumerate(np.array_split(order, min(n_groups, len(users)))):
        degrees = activity[users[part]]
        groups.append(
            {
                "group": i + 1,
                "users": len(part),
                "min_interactions": int(degrees.min()),
                "max_interactions": int(degrees.max()),
                **{name: float(v[part].mean(dtype=np.float64)) for name, v in values.items()},
            }
        )
    return groups


def mean_metrics(maps: list[dict[str, float]]) -> dict[str, float]:
    """Metric-wise mean of per-seed metric maps."""
    return {k: float(np.mean([m[k] for m in maps])) for k in maps[0]}


def std_metrics(maps: list[dict[str, float]]) -> dict[str, float]:
    """Metric-wise sample standard deviation of per-seed metric maps (0 for a single seed)."""
    return {k: float(np.std([m[k] for m in maps], ddof=1)) if len(maps) > 1 else 0.0 for k in maps[0]}


def over_seeds(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The validation and test means and standard deviations of per-seed run records, in the keys
    every metrics.json holds (`valid`, `valid_std`, `test`, `test_std`)."""
    valid, test = [r["valid"] for r in runs], [r["test"] for r in runs]
    return {
        "valid": mean_metrics(valid),
        "valid_std": std_metrics(valid),
        "test": mean_metrics(test),
        "test_std": std_metrics(test),
    }


class EmbeddingScorer:
    """Scores over fixed embeddings (computed once, reused for every batch), and their exact top-K.

    Calling it returns [len(users), n_items] fp32 scores, written into one buffer that each call
    overwrites (allocating a fresh [batch, n_items] matrix per batch doubled the cost of scoring: the
    kernel zeroes new pages), so a caller must be done with one batch's scores before it asks for the
    next, as `evaluate` is. `top_unseen` ranks a batch without fp32 scores where that is faster: a
    bf16 screen with exact fp32 rescoring (`llmrec.topk`); `screen` None decides by CPU and catalogue.
    """

    def __init__(self, user_emb: torch.Tensor, item_emb: torch.Tensor, screen: bool | None = None) -> None:
        """Keep the embeddings; `screen` True/False forces the bf16 screen on/off."""
        self.user_emb = user_emb
        self.item_emb = item_emb
        self.item_t = item_emb.T.contiguous()
        self.buffer = torch.empty(0, item_emb.shape[0], dtype=item_emb.dtype)
        self.screen = screen
        self._screened: ScreenedTopK | None = None

    def __call__(self, users: torch.Tensor) -> torch.Tensor:
        """[len(users), n_items] scores (a view of the reused buffer)."""
        if self.buffer.shape[0] < len(users):
            self.buffer = torch.empty(len(users), self.item_emb.shape[0], dtype=self.item_emb.dtype)
        return torch.mm(self.user_emb[users], self.item_t, out=self.buffer[: len(users)])

    def top_unseen(self, rows: np.ndarray, exclude: sp.csr_matrix | None, k: int) -> torch.Tensor:
        """The exact k best items of each user in `rows`, excluded (seen) items left out."""
        screen = worth_screening(self.item_emb.shape[0], k) if self.screen is None else self.screen
        if not screen:
            return topk_unseen(self(torch.from_numpy(rows)).float(), rows, exclude, k)
        if self._screened is None:
            self._screened = ScreenedTopK(self.user_emb, self.item_emb)
        top, ok = self._screened.top_k(rows, exclude, k)
        if not ok.all():  # near-ties at the screen's border, or fewer than k unseen items
            rest = rows[~ok]
            top[torch.from_numpy(~ok)] = topk_unseen(self(torch.from_numpy(rest)).float(), rest, exclude, k)
        return top


def embedding_scorer(
    user_emb: torch.Tensor, item_emb: torch.Tensor, screen: bool | None = None
) -> EmbeddingScorer:
    """A score function over fixed embeddings; see `EmbeddingScorer`."""
    return EmbeddingScorer(user_emb, item_emb, screen)


def model_scorer(
    model: torch.nn.Module, graph: Any, screen: bool | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A score function for a model in eval mode: embeddings computed once for a model declared
    `embeddings`; any other (GF-CF, popularity) is asked for each batch.
    `screen` is passed to `EmbeddingScorer` (None: decide by CPU and catalogue).
    """
    model.eval()
    if not capabilities_of(model).embeddings:
        return lambda users: cast(Scorer, model).score(users, graph)
    with torch.no_grad():
        user_emb, item_emb = cast(Embedder, model).embed(graph)
    return embedding_scorer(user_emb, item_emb, screen)
