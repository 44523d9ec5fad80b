"""Reranked lists scored with `llmrec.evaluate`'s own hit matrix and metric functions, alpha chosen on
validation, and the report by user-activity group.

Lists are complete top-K lists over all unseen items (the merged candidates, then the conventional
ranking), so the numbers are all-ranking metrics, the same as every other model's in llmrec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from llmrec.data.interactions import Interactions
from llmrec.evaluate import group_means, hits_of, metrics_from_hits
from llmrec.rerank.aggregate import adaptive_alpha, aggregate, merge_lists
from llmrec.rerank.config import Llama4RecConfig


def evaluate_lists(
    lists: np.ndarray, truth: Interactions, ks: Sequence[int]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The users with held-out items in `truth` and each metric per user, from [n_users, >= max(ks)] lists.

    The lists must already leave out the masked items (they do when built from `conventional_top`
    with the same mask `llmrec.evaluate` would use).
    """
    users = truth.active_users()
    if len(users) == 0:
        raise ValueError("no user has a held-out item to evaluate")
    k = max(ks)
    if lists.shape[1] < k:
        raise ValueError(f"lists hold {lists.shape[1]} items; metrics @{k} need {k}")
    top = torch.from_numpy(np.ascontiguousarray(lists[users, :k], dtype=np.int64))
    hits = hits_of(top, truth.user_items, users)
    n_truth = torch.from_numpy(np.diff(truth.user_items.indptr)[users])
    values = metrics_from_hits(hits, n_truth, ks)
    return users, {name: v.numpy() for name, v in values.items()}


def mean_of(values: dict[str, np.ndarray]) -> dict[str, float]:
    """Metric means over the evaluated users."""
    return {name: float(v.mean(dtype=np.float64)) for name, v in values.items()}


def merged_lists(
    candidates: np.ndarray,
    order: np.ndarray,
    base_top: np.ndarray,
    n_train: np.ndarray,
    alpha1: float,
    alpha2: float,
    cfg: Llama4RecConfig,
) -> np.ndarray:
    """Final [n_users, cfg.list_length] lists for one (alpha1, alpha2): aggregate, then append the rest."""
    alpha = adaptive_alpha(n_train, alpha1, alpha2, cfg.alpha_cutoff)
    merged = aggregate(candidates, order, alpha, cfg.utility)
    return merge_lists(merged, base_top, cfg.list_length)


@dataclass(frozen=True)
class AlphaChoice:
    """The (alpha1, alpha2) with the best validation metric, and the metric at every grid point."""

    alpha1: float
    alpha2: float
    metric: str
    score: float
    base_score: float  # the conventional lists' value of the same metric
    grid: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "alpha1": self.alpha1,
            "alpha2": self.alpha2,
            "metric": self.metric,
            "score": self.score,
            "base_score": self.base_score,
            "grid": self.grid,
        }


def choose_alpha(
    candidates: np.ndarray,
    order: np.ndarray,
    base_top: np.ndarray,
    valid: Interactions,
    n_train: np.ndarray,
    cfg: Llama4RecConfig,
) -> AlphaChoice:
    """Score every (alpha1, alpha2) of `cfg.alpha_grid` squared on validation; keep the best.

    Ties go to the earlier grid point (smaller alpha1, then smaller alpha2: the smaller LLM weight).
    The lists must have been built with training items masked only (the validation protocol).
    """
    metric = cfg.select_metric
    k = int(metric.partition("@")[2])
    _, base = evaluate_lists(base_top, valid, [k])
    grid = []
    for a1 in cfg.alpha_grid:
        for a2 in cfg.alpha_grid:
            lists = merged_lists(candidates, order, base_top, n_train, a1, a2, cfg)
            _, values = evaluate_lists(lists, valid, [k])
            grid.append({"alpha1": a1, "alpha2": a2, metric: float(values[metric].mean(dtype=np.float64))})
    best = max(grid, key=lambda g: g[metric])  # max keeps the first of equal values
    return AlphaChoice(
        best["alpha1"], best["alpha2"], metric, best[metric], float(base[metric].mean(dtype=np.float64)), grid
    )


def report(
    lists: np.ndarray, truth: Interactions, n_train: np.ndarray, cfg: Llama4RecConfig
) -> dict[str, Any]:
    """Mean metrics over all evaluated users and by activity group (least to most active)."""
    users, values = evaluate_lists(lists, truth, cfg.ks)
    return {
        "users": len(users),
        "all": mean_of(values),
        "groups": group_means(users, values, np.asarray(n_train), cfg.activity_groups),
    }
