"""Use a finished run folder: re-evaluate its saved models, recommend items for one of its users, and
augment from it (`llmrec evaluate`, `recommend`, `augment`).

Nothing here trains: models, split, inputs and graphs are read back as `experiment.train_seeds` saved
them (`experiment.load_trained`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from llmrec.augment.config import AugmentConfig
from llmrec.augment.stage import BaseRun, augment
from llmrec.errors import ConfigError, DataError
from llmrec.evaluate import evaluate, mean_metrics, model_scorer, std_metrics
from llmrec.experiment import TrainedRun, load_trained
from llmrec.llm import LLMConfig
from llmrec.methods import METHODS
from llmrec.models import Scorer
from llmrec.rundir import load_titles
from llmrec.stages import best_of


def evaluate_run(run_dir: Path) -> dict[str, Any]:
    """Re-evaluate every saved seed of a run on valid and test; returns means and per-seed values."""
    run = load_trained(run_dir)
    cfg, split = run.cfg, run.split
    runs: list[dict[str, Any]] = []
    for seed in run.seeds:
        scorer = model_scorer(run.model(seed), run.graph, cfg.eval.screen_flag())
        valid = evaluate(scorer, split.valid, [split.train], cfg.eval.ks, cfg.eval.batch_size)
        scorer = model_scorer(run.test_model(seed), run.test_graph, cfg.eval.screen_flag())
        test = evaluate(scorer, split.test, [split.train, split.valid], cfg.eval.ks, cfg.eval.batch_size)
        runs.append({"seed": seed, "valid": valid, "test": test})
    return {
        "dataset": cfg.data.dataset,
        "model": cfg.model.name,
        "valid": mean_metrics([r["valid"] for r in runs]),
        "test": mean_metrics([r["test"] for r in runs]),
        "test_std": std_metrics([r["test"] for r in runs]),
        "runs": runs,
    }


def recommend(run_dir: Path, user: str, k: int = 10) -> list[dict[str, Any]]:
    """Top-k unseen items for a raw user id (by the tested model of the first seed), with titles where
    the dataset has them."""
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    run = load_trained(run_dir)
    split = run.split
    matches = np.flatnonzero(split.train.user_ids == str(user))
    if len(matches) == 0:
        example = ", ".join(split.train.user_ids[:3])
        raise DataError(
            f"user {user!r} is not in run {run_dir} ({split.train.n_users} users; ids look like {example})"
        )
    uid = int(matches[0])
    with torch.no_grad():
        scores = cast(Scorer, run.test_model()).score(torch.tensor([uid]), run.test_graph)[0]
    seen = np.concatenate([split.train.items_of(uid), split.valid.items_of(uid)])
    scores[torch.from_numpy(seen.astype(np.int64))] = -torch.inf
    top = torch.topk(scores, min(k, split.train.n_items - len(seen)))
    titles = load_titles(run_dir)
    return [
        {
            "rank": rank + 1,
            "item_id": str(split.train.item_ids[i]),
            "title": titles[i] if titles else "",
            "score": float(s),
        }
        for rank, (s, i) in enumerate(zip(top.values.tolist(), top.indices.tolist(), strict=True))
    ]


def base_run(run_dir: Path, base_model: str = "") -> BaseRun:
    """The trained model an augmentation of `run_dir` builds on: the folder's own model (an `llmrec
    train` folder), or the best baseline on validation of an `llmrec run` folder (or `base_model`)."""
    if (run_dir / "split.npz").is_file():
        run = load_trained(run_dir)
        if base_model and base_model != run.cfg.model.name:
            raise ConfigError(
                f"augment.base_model: {run_dir} holds a {run.cfg.model.name} run, not {base_model}"
            )
        return _as_base(run, "the run's model")
    found = sorted(p.parent for p in run_dir.glob("*/metrics.json") if (p.parent / "split.npz").is_file())
    # a model trained on augmentations cannot give the candidates of the augmentation it trains on
    runs = {p.name: load_trained(p) for p in found if p.name in METHODS and METHODS[p.name].baseline}
    if not runs:
        raise DataError(
            f"{run_dir} is not a run directory: no split.npz in it, and no trained baseline folders below it"
        )
    if base_model:
        if base_model not in runs:
            raise ConfigError(f"augment.base_model: no {base_model!r} in {run_dir}; found {sorted(runs)}")
        return _as_base(runs[base_model], "named by augment.base_model")
    best = best_of(runs, next(iter(runs.values())).cfg.train.metric)
    metric = runs[best].cfg.train.metric
    return _as_base(
        runs[best], f"best validation {metric} ({runs[best].valid_score(metric):.4f}) of {sorted(runs)}"
    )


def _as_base(run: TrainedRun, reason: str) -> BaseRun:
    """A trained run's first seed as the base of an augmentation."""
    return BaseRun(run.out, run.cfg, reason, run.split, run.model(), run.graph)


def augment_run(
    run_dir: Path,
    aug: AugmentConfig,
    llm: LLMConfig | None = None,
    env: Mapping[str, str] | None = None,
    out: Path | None = None,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """`llmrec augment RUN_DIR`: augment from the run's base model into OUT (default RUN_DIR/augment)."""
    base = base_run(run_dir, aug.base_model)
    return augment(base, aug, run_dir / "augment" if out is None else out, llm, env, show_progress)


__all__ = ["augment_run", "base_run", "evaluate_run", "recommend"]
