"""Why can a model validate higher and test lower? Compare the validation carve with the given test split.

For each run (a trained, non-augmented model), prints:
- how popular the items of its train, valid and test edges are (mean and median training degree of
  the edge's item): a validation part carved at random from train matches train, a given test split
  need not;
- the selected (validated, not refit) model's valid and test Recall@20, so a refit's share of a
  valid/test gap can be told apart from the split's;
- how popular the model's own top-20 items are.

This is a diagnostic for benchmarks: it looks at test to explain a result, never to choose a model.

Usage: python benchmarks/valid_test_drift.py RUN_DIR [RUN_DIR ...]   (1 thread)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.evaluate import evaluate, model_scorer, topk_unseen
from llmrec.pipeline import model_graph
from llmrec.rundir import load_model, load_run_config, load_split


def edge_popularity(part: sp.csr_matrix, degree: np.ndarray) -> tuple[float, float]:
    """Mean and median training degree of the items of `part`'s edges."""
    items = degree[part.indices]
    return float(items.mean()), float(np.median(items))


def top_items(
    scorer: Callable[[torch.Tensor], torch.Tensor], seen: sp.csr_matrix, k: int = 20, batch: int = 4096
) -> np.ndarray:
    """Every user's top-k unseen items under `scorer`, as a (users, k) array."""
    tops = []
    for start in range(0, seen.shape[0], batch):
        rows = np.arange(start, min(start + batch, seen.shape[0]))
        with torch.no_grad():
            tops.append(topk_unseen(scorer(torch.from_numpy(rows)), rows, seen, k).numpy())
    return np.concatenate(tops)


def report(run: Path) -> None:
    """Print the split's and the selected model's popularity, and its valid and test Recall@20."""
    cfg, split = load_run_config(run), load_split(run)
    degree = np.bincount(split.train.user_items.indices, minlength=split.train.n_items)
    for name, part in (("train", split.train), ("valid", split.valid), ("test", split.test)):
        mean, median = edge_popularity(part.user_items, degree)
        print(f"{run}: {name} edges' item degree mean {mean:.1f}, median {median:.0f}")
    model = load_model(run, cfg, split)
    scorer = model_scorer(model, model_graph(cfg, split))
    valid = evaluate(scorer, split.valid, [split.train], [20], cfg.eval.batch_size)
    test = evaluate(scorer, split.test, [split.train, split.valid], [20], cfg.eval.batch_size)
    top = degree[top_items(scorer, split.train.user_items)]
    print(
        f"{run}: selected model (no refit) valid R@20 {valid['recall@20']:.4f}, "
        f"test R@20 {test['recall@20']:.4f}; its top-20 items' degree mean {top.mean():.1f}, "
        f"median {np.median(top):.0f}"
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    for arg in sys.argv[1:]:
        report(Path(arg))
