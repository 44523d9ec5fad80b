"""Use a finished run directory: re-evaluate its saved models, recommend items for one of its users.

Nothing here trains: the models, split and augmented inputs are read back as `train_models` saved them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from llmrec.config import RunConfig
from llmrec.errors import ConfigError, DataError
from llmrec.evaluate import evaluate, mean_metrics, model_scorer, std_metrics
from llmrec.features import AugmentedInputs, feature_dims, load_saved_inputs
from llmrec.models import Scorer
from llmrec.pipeline import model_graph, refit_split, retrains, uses_augmentation
from llmrec.rundir import load_model, load_run_config, load_split, load_titles
from llmrec.train import fit_edges


def _run_inputs(run_dir: Path, cfg: RunConfig) -> AugmentedInputs | None:
    """The augmented inputs saved with a run that read them (None for a run that did not)."""
    if not uses_augmentation(cfg):
        return None
    inputs = load_saved_inputs(run_dir)
    if inputs is None:
        raise DataError(
            f"{run_dir} holds a model trained on augmentations but not them (side_features.npz missing)"
        )
    return inputs


def evaluate_run(run_dir: Path) -> dict[str, Any]:
    """Re-evaluate every saved seed of a run on valid and test; returns means and per-seed values."""
    cfg = load_run_config(run_dir)
    split = load_split(run_dir)
    inputs = _run_inputs(run_dir, cfg)
    graph = model_graph(cfg, split, inputs)
    test_graph = model_graph(cfg, refit_split(split), inputs) if retrains(cfg) else graph
    runs: list[dict[str, Any]] = []
    edges = split.train.user_items if graph is None else graph.user_items
    for i in range(cfg.seeds):
        model = load_model(run_dir, cfg, split, cfg.seed + i, edges, feature_dims(inputs))
        scorer = model_scorer(model, graph, cfg.eval.screen_flag())
        valid = evaluate(scorer, split.valid, [split.train], cfg.eval.ks, cfg.eval.batch_size)
        if hasattr(model, "fit") and cfg.train.refit:  # the test model saw valid's edges too
            model.fit(fit_edges(edges, split.valid, refit=True))  # type: ignore[operator]
        if retrains(cfg):
            model = load_model(run_dir, cfg, split, cfg.seed + i, None, feature_dims(inputs), retrained=True)
        scorer = model_scorer(model, test_graph, cfg.eval.screen_flag())
        test = evaluate(scorer, split.test, [split.train, split.valid], cfg.eval.ks, cfg.eval.batch_size)
        runs.append({"seed": cfg.seed + i, "valid": valid, "test": test})
    return {
        "dataset": cfg.data.dataset,
        "model": cfg.model.name,
        "valid": mean_metrics([r["valid"] for r in runs]),
        "test": mean_metrics([r["test"] for r in runs]),
        "test_std": std_metrics([r["test"] for r in runs]),
        "runs": runs,
    }


def recommend(run_dir: Path, user: str, k: int = 10) -> list[dict[str, Any]]:
    """Top-k unseen items for a raw user id, with titles where the dataset has them."""
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    cfg = load_run_config(run_dir)
    split = load_split(run_dir)
    matches = np.flatnonzero(split.train.user_ids == str(user))
    if len(matches) == 0:
        example = ", ".join(split.train.user_ids[:3])
        raise DataError(
            f"user {user!r} is not in run {run_dir} ({split.train.n_users} users; ids look like {example})"
        )
    uid = int(matches[0])
    inputs = _run_inputs(run_dir, cfg)
    graph = model_graph(cfg, refit_split(split) if retrains(cfg) else split, inputs)
    edges = fit_edges(  # what a closed-form model is solved on (a retrained one's graph has valid already)
        split.train.user_items if graph is None else graph.user_items,
        split.valid,
        cfg.train.refit and not retrains(cfg),
    )
    model = load_model(
        run_dir, cfg, split, edges=edges, feature_dims=feature_dims(inputs), retrained=retrains(cfg)
    )
    with torch.no_grad():
        scores = cast(Scorer, model).score(torch.tensor([uid]), graph)[0]
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
