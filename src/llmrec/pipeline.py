"""Chains the stages: config -> dataset -> split -> model -> fit(train, valid) -> evaluate(test) -> run dir.

What a run writes and how it is read back lives in `rundir.py`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from tqdm.auto import tqdm

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.data.dataset import Dataset, Split
from llmrec.data.prepare import load_dataset
from llmrec.data.split import split as make_split
from llmrec.errors import ConfigError, DataError, LLMRecError
from llmrec.evaluate import evaluate, model_scorer
from llmrec.graph import build_graph
from llmrec.models import GRAPH_MODELS, MODELS, Scorer
from llmrec.rundir import (
    atomic_torch_save,
    load_model,
    load_run_config,
    load_split,
    load_titles,
    new_model,
    save_split,
    write_json,
)
from llmrec.train import check_train_config, fit

log = logging.getLogger("llmrec")

STAGES = ("train", "augment")  # what `llmrec run` can chain, in this order


@dataclass
class Prepared:
    """A dataset loaded and split once, shared by every model and seed of a run."""

    dataset: Dataset
    split: Split


def prepare(cfg: RunConfig, dirs: Sequence[Path]) -> Prepared:
    """Load the configured dataset and split it."""
    dataset = load_dataset(cfg.data, list(dirs))
    return Prepared(dataset, make_split(dataset, cfg.split))


def check_model_name(name: str) -> None:
    """Raise ConfigError for an unknown model name, listing the known ones."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {sorted(MODELS)}")


def check_config(cfg: RunConfig) -> None:
    """Fail before loading data on settings that cannot work."""
    unknown = sorted(set(cfg.stages) - set(STAGES))
    if unknown or "train" not in cfg.stages:
        raise ConfigError(f"stages {list(cfg.stages)}: must include 'train', and only {list(STAGES)}")
    for name in cfg.models or (cfg.model.name,):
        check_model_name(name)
        if name == "llmrec":
            # without its side features and augmented edges it would silently be LightGCN
            raise ConfigError(
                "model 'llmrec' needs the augmentation artefacts, which `llmrec train` / `run` do not pass "
                "to it yet; use it from Python (docs/llmrec_model.md)"
            )
    check_train_config(cfg.train, cfg.eval)
    if cfg.seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {cfg.seeds}")


def train_models(
    cfg: RunConfig, prepared: Prepared, out: Path, show_progress: bool | None = None
) -> dict[str, Any]:
    """Train `cfg.model` over `cfg.seeds` seeds, test each selected model once, write the run dir."""
    check_model_name(cfg.model.name)
    split = prepared.split
    out.mkdir(parents=True, exist_ok=True)
    save_split(split, prepared.dataset, out)
    (out / "config.toml").write_text(cfgmod.dumps_toml(cfg), encoding="utf-8")
    graph = build_graph(split.train) if cfg.model.name in GRAPH_MODELS else None
    runs = []
    start = time.perf_counter()
    for i in range(cfg.seeds):
        seed = cfg.seed + i
        torch.manual_seed(seed)
        model = new_model(cfg, split.train.n_users, split.train.n_items)
        result = fit(model, split.train, split.valid, graph, cfg.train, cfg.eval, seed, show_progress)
        test = test_model(model, graph, split, cfg, show_progress)
        atomic_torch_save(model.state_dict(), out / f"model-seed{seed}.pt")
        runs.append(
            {
                "seed": seed,
                "best_epoch": result.best_epoch,
                "stopped_by": result.stopped_by,
                "train_seconds": result.train_seconds,
                "valid": result.best_valid,
                "test": test,
                "history": result.history,
            }
        )
        log.info("seed %d: best epoch %d, test %s", seed, result.best_epoch, _short(test))
    metrics = summarise(cfg, prepared, runs, time.perf_counter() - start)
    write_json(out / "metrics.json", metrics)
    return metrics


def test_model(
    model: torch.nn.Module, graph: Any, split: Split, cfg: RunConfig, show_progress: bool | None = None
) -> dict[str, float]:
    """Test metrics of a trained model with train and valid items masked."""
    scorer = model_scorer(model, graph)
    with _bar(len(split.test.active_users()), "test", show_progress) as bar:
        return evaluate(
            scorer, split.test, [split.train, split.valid], cfg.eval.ks, cfg.eval.batch_size, bar.update
        )


def _bar(total: int, desc: str, show: bool | None) -> tqdm:
    """A transient progress bar over users; hidden when output is not a terminal (show=None)."""
    return tqdm(total=total, desc=desc, unit="user", leave=False, disable=None if show is None else not show)


def summarise(
    cfg: RunConfig, prepared: Prepared, runs: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    """metrics.json content: means and standard deviations over seeds, plus each run."""
    split = prepared.split
    return {
        "dataset": cfg.data.dataset,
        "model": cfg.model.name,
        "seeds": [r["seed"] for r in runs],
        "valid": _mean([r["valid"] for r in runs]),
        "valid_std": _std([r["valid"] for r in runs]),
        "test": _mean([r["test"] for r in runs]),
        "test_std": _std([r["test"] for r in runs]),
        "runs": runs,
        "train_seconds": seconds,
        "split": {
            "method": split.method,
            "n_users": split.train.n_users,
            "n_items": split.train.n_items,
            "train": split.train.nnz,
            "valid": split.valid.nnz,
            "test": split.test.nnz,
            "notes": list(split.notes) + list(prepared.dataset.notes),
        },
        "config": cfgmod.to_dict(cfg),
    }


def _mean(maps: list[dict[str, float]]) -> dict[str, float]:
    """Metric-wise mean of per-seed metric maps."""
    return {k: float(np.mean([m[k] for m in maps])) for k in maps[0]}


def _std(maps: list[dict[str, float]]) -> dict[str, float]:
    """Metric-wise sample standard deviation (0 for a single seed)."""
    return {k: float(np.std([m[k] for m in maps], ddof=1)) if len(maps) > 1 else 0.0 for k in maps[0]}


def _short(metrics: dict[str, float]) -> str:
    """Recall and NDCG at 20 for log lines."""
    return " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k in ("recall@20", "ndcg@20"))


def compare(
    cfg: RunConfig,
    dirs: Sequence[Path],
    out: Path,
    show_progress: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Train every model of `cfg.models` on one split and seed set, then run the configured stages.

    Writes `summary.json`; with "augment" in `cfg.stages`, LLMRec's augmentations of the best base
    model go to `out/augment` and the audit and teacher into the summary. `env` supplies the LLM's
    base URL, model and key variables.
    """
    names = list(cfg.models) or [cfg.model.name]
    check_config(cfg)
    prepared = prepare(cfg, dirs)
    models: dict[str, Any] = {}
    for name in names:
        model_cfg = cfgmod.replace(cfg, **{"model.name": name})
        metrics = train_models(model_cfg, prepared, out / name, show_progress)
        models[name] = {k: metrics[k] for k in ("valid", "valid_std", "test", "test_std", "train_seconds")}
    summary = {
        "dataset": cfg.data.dataset,
        "seeds": cfg.seeds,
        "models": models,
        "config": cfgmod.to_dict(cfg),
    }
    write_json(out / "summary.json", summary)
    if "augment" in cfg.stages:
        from llmrec.augment.stage import run_augmentation  # the encoder stack loads only when asked

        audit = run_augmentation(out, cfg.augment, cfg.llm, env or {}, None, show_progress)
        summary["augmentation"] = audit
        summary["teacher"] = audit.get("teacher")
        write_json(out / "summary.json", summary)
    return summary


def evaluate_run(run_dir: Path) -> dict[str, Any]:
    """Re-evaluate every saved seed of a run on valid and test; returns means and per-seed values."""
    cfg = load_run_config(run_dir)
    split = load_split(run_dir)
    graph = build_graph(split.train) if cfg.model.name in GRAPH_MODELS else None
    runs: list[dict[str, Any]] = []
    for i in range(cfg.seeds):
        model = load_model(run_dir, cfg, split, cfg.seed + i, None if graph is None else graph.user_items)
        scorer = model_scorer(model, graph)
        valid = evaluate(scorer, split.valid, [split.train], cfg.eval.ks, cfg.eval.batch_size)
        test = evaluate(scorer, split.test, [split.train, split.valid], cfg.eval.ks, cfg.eval.batch_size)
        runs.append({"seed": cfg.seed + i, "valid": valid, "test": test})
    return {
        "dataset": cfg.data.dataset,
        "model": cfg.model.name,
        "valid": _mean([r["valid"] for r in runs]),
        "test": _mean([r["test"] for r in runs]),
        "test_std": _std([r["test"] for r in runs]),
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
    graph = build_graph(split.train) if cfg.model.name in GRAPH_MODELS else None
    model = load_model(run_dir, cfg, split, edges=None if graph is None else graph.user_items)
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


__all__ = [
    "LLMRecError",
    "Prepared",
    "compare",
    "evaluate_run",
    "prepare",
    "recommend",
    "train_models",
]
