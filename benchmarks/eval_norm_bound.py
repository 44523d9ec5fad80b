"""Could an exact top-k skip items? Measure how many items a norm bound leaves to score.

Cauchy-Schwarz gives score(u, i) <= |u| |i|, so with items sorted by norm an exact top-k could stop
scoring a user once |u| |i| falls below the user's k-th best score so far. This script measures, for
a trained run, the share of items each user would still have to score (unseen items only, k = 50).
A share near 1 means the bound cannot beat the full product on that model.

Usage: python benchmarks/eval_norm_bound.py RUN_DIR [RUN_DIR ...]   (every 7th user, 1 thread)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from llmrec.experiment import load_trained

K = 50


def share_to_score(run: Path, stride: int = 7, batch: int = 1024) -> np.ndarray:
    """Per sampled user: the fraction of items whose norm bound reaches the user's k-th best score."""
    trained = load_trained(run)
    split, model = trained.split, trained.model()  # the first seed's selected model
    with torch.no_grad():
        users, items = model.embed(trained.graph)  # type: ignore[operator]
    user_norm, item_norm = users.norm(dim=1), items.norm(dim=1)
    neg_sorted = -torch.sort(item_norm, descending=True).values  # ascending, for searchsorted
    seen = (split.train.user_items + split.valid.user_items).tocsr()
    sampled = np.arange(0, users.shape[0], stride)
    shares = []
    for start in range(0, len(sampled), batch):
        rows = sampled[start : start + batch]
        scores = users[rows] @ items.T
        mask = seen[rows].tocoo()
        scores[mask.row, mask.col] = -torch.inf
        kth = scores.topk(K, dim=1).values[:, -1]
        needed = torch.searchsorted(neg_sorted, -(kth / user_norm[rows]), right=True)
        shares.append(needed.double() / items.shape[0])
    return torch.cat(shares).numpy()


def main(runs: list[str]) -> None:
    """Print the distribution of the share per run."""
    torch.set_num_threads(1)
    for run in runs:
        share = share_to_score(Path(run))
        q = np.quantile(share, [0.5, 0.9])
        print(f"{run}: items left to score per user: mean {share.mean():.3f}, ", end="")
        print(f"median {q[0]:.3f}, p90 {q[1]:.3f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
