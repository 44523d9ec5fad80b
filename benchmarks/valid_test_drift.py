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
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.augment.candidates import top_candidates
from llmrec.evaluate import evaluate, model_scorer
from llmrec.experiment import load_trained


def edge_popularity(part: sp.csr_matrix, degree: np.ndarray) -> tuple[float, float]:
    """Mean and median training degree of the items of `part`'s edges."""
    items = degree[part.indices]
    return float(items.mean()), float(np.median(items))


def report(run: Path) -> None:
    """Print the split's and the selected model's popularity, and its valid and test Recall@20."""
    trained = load_trained(run)
    cfg, split = trained.cfg, trained.split
    degree = np.bincount(split.train.user_items.indices, minlength=split.train.n_items)
    for name, part in (("train", split.train), ("valid", split.valid), ("test", split.test)):
        mean, median = edge_popularity(part.user_items, degree)
        print(f"{run}: {name} edges' item degree mean {mean:.1f}, median {median:.0f}")
    # the first seed's selected model on the graph it trained on
    scorer = model_scorer(trained.model(), trained.graph)
    valid = evaluate(scorer, split.valid, [split.train], [20], cfg.eval.batch_size)
    test = evaluate(scorer, split.test, [split.train, split.valid], [20], cfg.eval.batch_size)
    top = degree[top_candidates(scorer, split.train.user_items, 20, cfg.eval.batch_size)]
    print(
        f"{run}: selected model (no refit) valid R@20 {valid['recall@20']:.4f}, "
        f"test R@20 {test['recall@20']:.4f}; its top-20 items' degree mean {top.mean():.1f}, "
        f"median {np.median(top):.0f}"
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    for arg in sys.argv[1:]:
        report(Path(arg))
