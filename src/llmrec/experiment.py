"""One model over seeds: fit(train, valid) -> test once -> record, with its run folder as the cache.

`train_seeds` is the experiment loop every trained method shares. A seed whose model and record are
already in the folder under the same fingerprint (config, split, inputs) is reused, and a seed killed
mid-training resumes from its last checkpoint. The result is a `TrainedRun`: the value later stages
(augmentation, reranking, reports, serving) receive, and what `load_trained` rebuilds from a folder.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from llmrec import config as cfgmod
from llmrec.atomic import atomic_write, write_json
from llmrec.config import RunConfig
from llmrec.data.dataset import Dataset, Split
from llmrec.data.prepare import load_dataset
from llmrec.data.split import split as make_split
from llmrec.errors import ConfigError, DataError
from llmrec.evaluate import evaluate_users, group_means, model_scorer, over_seeds
from llmrec.factory import model_capabilities, new_model
from llmrec.features import AugmentedInputs, feature_dims, load_saved_inputs, save_inputs
from llmrec.fingerprint import run_fingerprint
from llmrec.graph import Graph, build_graph
from llmrec.rundir import (
    RunCheckpoint,
    atomic_torch_save,
    checkpoint_file,
    load_model,
    load_run_config,
    load_split,
    model_file,
    save_split,
    warm_start,
)
from llmrec.train import FitResult, fit, fit_edges

log = logging.getLogger("llmrec")
GRAPH_EDGES = "graph_edges.npz"  # extra edges a model's graph held beyond train, saved with its run


@dataclass
class Prepared:
    """A dataset loaded and split once, shared by every method and seed of a run."""

    dataset: Dataset
    split: Split


def prepare(cfg: RunConfig, dirs: Sequence[Path]) -> Prepared:
    """Load the configured dataset and split it."""
    dataset = load_dataset(cfg.data, list(dirs))
    return Prepared(dataset, make_split(dataset, cfg.split))


@dataclass
class TrainedRun:
    """A model trained over seeds: its config, folder, metrics, and the graph and inputs it learned from.

    `graph` is what it trained and validated on (None for models without one); `test_graph` what its
    tested model saw (train + valid with `train.refit`). `model(seed)` gives a seed's selected model
    (with a refit, `model(seed, retrained=True)` the tested one), loaded once.
    """

    name: str
    cfg: RunConfig
    out: Path
    split: Split
    metrics: dict[str, Any]
    graph: Graph | None
    test_graph: Graph | None
    inputs: AugmentedInputs | None = None
    extra_edges: sp.csr_matrix | None = None
    _models: dict[tuple[int, bool], torch.nn.Module] = field(default_factory=dict, repr=False)

    @property
    def seeds(self) -> list[int]:
        """The seeds it was trained with."""
        return [self.cfg.seed + i for i in range(self.cfg.seeds)]

    def valid_score(self, metric: str) -> float:
        """Its mean validation `metric` over seeds (-inf when not computed)."""
        return float(self.metrics["valid"].get(metric, float("-inf")))

    def model(self, seed: int | None = None, retrained: bool = False) -> torch.nn.Module:
        """A seed's selected model (default: the first seed), in evaluation mode; `retrained`: the one
        fitted on train + valid that a `train.refit` run tested (a closed-form model is solved again)."""
        seed = self.seeds[0] if seed is None else seed
        key = (seed, retrained)
        if key not in self._models:
            closed = model_capabilities(self.cfg.model.name).closed_form
            edges = self.graph.user_items if self.graph is not None else self.split.train.user_items
            if retrained and closed:
                edges = fit_edges(edges, self.split.valid, True)
            self._models[key] = load_model(
                self.out,
                self.cfg,
                self.split,
                seed,
                edges,
                feature_dims(self.inputs),
                retrained and not closed,
            )
        return self._models[key]

    def test_model(self, seed: int | None = None) -> torch.nn.Module:
        """The model a seed was tested with: with `train.refit` the one fitted on train + valid."""
        return self.model(seed, retrained=self.cfg.train.refit)


def retrains(cfg: RunConfig) -> bool:
    """Whether `cfg` tests a model retrained on train + valid: `train.refit` on a trained model (a
    closed-form one is solved again instead)."""
    return cfg.train.refit and not model_capabilities(cfg.model.name).closed_form


def refit_split(split: Split) -> Split:
    """`split` with valid's edges added to train: what a retrained test model learns from."""
    return replace(split, train=split.train.with_matrix(fit_edges(split.train.user_items, split.valid, True)))


def model_graph(
    cfg: RunConfig, split: Split, inputs: AugmentedInputs | None, extra: sp.csr_matrix | None
) -> Graph | None:
    """The propagation graph of `cfg.model` on `split.train` plus `extra` edges and the inputs' side
    features (None for a model without a graph)."""
    if not model_capabilities(cfg.model.name).graph:
        if extra is not None and extra.nnz:
            raise ConfigError(f"{cfg.model.name} has no graph to add extra edges to (train.extra_edges)")
        return None
    return build_graph(split.train, extra, None if inputs is None else inputs.features)


def train_seeds(
    cfg: RunConfig,
    prepared: Prepared,
    out: Path,
    *,
    name: str | None = None,
    inputs: AugmentedInputs | None = None,
    extra_edges: sp.csr_matrix | None = None,
    method_key: Any = None,
    show_progress: bool | None = None,
) -> TrainedRun:
    """Train `cfg.model` over `cfg.seeds` seeds, test each selected model once, write the run folder.

    `inputs` are side features (for a model declared `side_features`) and augmented triples (weighed
    apart by a model declared `augmented_triples`, else part of its BPR batches; a model solved in
    closed form takes none); `extra_edges` join the graph. `method_key` is whatever else of the
    method's settings shaped them (hashed into the fingerprint).
    """
    split = prepared.split
    if inputs is not None and inputs.triples is not None and model_capabilities(cfg.model.name).closed_form:
        raise ConfigError(f"{cfg.model.name} is solved in closed form: it cannot train on augmented triples")
    out.mkdir(parents=True, exist_ok=True)
    key = run_fingerprint(cfg, split, inputs, method_key, extra_edges)
    save_split(split, prepared.dataset, out)
    atomic_write(out / "config.toml", lambda f: f.write(cfgmod.dumps_toml(cfg)))
    if inputs is not None:
        save_inputs(inputs, out)
    _save_extra_edges(extra_edges, out)
    graph = model_graph(cfg, split, inputs, extra_edges)
    merged = refit_split(split) if retrains(cfg) else None
    test_graph = model_graph(cfg, merged, inputs, extra_edges) if merged is not None else graph
    run = TrainedRun(name or cfg.model.name, cfg, out, split, {}, graph, test_graph, inputs, extra_edges)
    activity = np.diff(split.train.user_items.indptr)
    runs = []
    start = time.perf_counter()
    for i in range(cfg.seeds):
        seed = cfg.seed + i
        saved = _saved_seed(out, seed, key, retrains(cfg))
        if saved is not None:
            log.info("seed %d: reused from %s (fingerprint %s)", seed, out, key)
            runs.append(saved)
            continue
        record, model = _train_seed(cfg, run, seed, key, merged, show_progress)
        test, groups = test_model(model, test_graph, split, cfg, show_progress, activity)
        record.update(test=test, test_by_activity=groups)
        write_json(out / f"seed{seed}.json", {"fingerprint": key, "run": record})
        runs.append(record)
        log.info("seed %d: best epoch %d, test %s", seed, record["best_epoch"], _short(test))
    run.metrics = summarise(cfg, prepared, runs, time.perf_counter() - start)
    run.metrics["fingerprint"] = key
    if inputs is not None:
        run.metrics["inputs"] = inputs.sources
    write_json(out / "metrics.json", run.metrics)
    return run


def _train_seed(
    cfg: RunConfig, run: TrainedRun, seed: int, key: str, merged: Split | None, show_progress: bool | None
) -> tuple[dict[str, Any], torch.nn.Module]:
    """Select one seed's model on validation (and with a refit, retrain it on train + valid); its
    record without the test metrics, and the model to test."""
    out, split, inputs = run.out, run.split, run.inputs
    model = _fresh_model(cfg, split, inputs, seed)
    triples = None if inputs is None else inputs.triples
    # with refit, the selection is saved on its own: a run killed during the refit skips reselecting
    result = _saved_selection(out, seed, key) if merged is not None else None
    if result is None:
        checkpoint = RunCheckpoint(out / checkpoint_file(seed), key, cfg.train.checkpoint_minutes * 60)
        result = fit(
            model,
            split.train,
            split.valid,
            run.graph,
            cfg.train,
            cfg.eval,
            seed,
            show_progress,
            triples,
            checkpoint=checkpoint,
        )
        atomic_torch_save(model.state_dict(), out / model_file(seed))
        if merged is not None:
            write_json(out / f"seed{seed}-selected.json", {"fingerprint": key, "result": asdict(result)})
        checkpoint.clear()
    # a closed-form model's `fit` already solved it again on train + valid when refitting
    run._models[(seed, cfg.train.refit and model_capabilities(cfg.model.name).closed_form)] = model.eval()
    record: dict[str, Any] = {
        "seed": seed,
        "best_epoch": result.best_epoch,
        "stopped_by": result.stopped_by,
        "train_seconds": result.train_seconds,
        "valid": result.best_valid,
    }
    if merged is not None:  # the same seed and schedule again, on train + valid, to the chosen epoch
        model = _fresh_model(cfg, split, inputs, seed)
        path = out / checkpoint_file(seed, retrained=True)
        checkpoint = RunCheckpoint(path, key, cfg.train.checkpoint_minutes * 60)
        refit = fit(
            model,
            merged.train,
            None,
            run.test_graph,
            cfg.train,
            cfg.eval,
            seed,
            show_progress,
            triples,
            stop_after=result.best_epoch,
            checkpoint=checkpoint,
        )
        atomic_torch_save(model.state_dict(), out / model_file(seed, retrained=True))
        checkpoint.clear()
        run._models[(seed, True)] = model.eval()
        record["train_seconds"] += refit.train_seconds
        record["refit"] = {
            "epochs": refit.best_epoch,
            "seconds": refit.train_seconds,
            "history": refit.history,
        }
    record["history"] = result.history
    return record, model


def _fresh_model(cfg: RunConfig, split: Split, inputs: AugmentedInputs | None, seed: int) -> torch.nn.Module:
    """A new model of `cfg` initialised from `seed` (or warm-started from `train.init_from`)."""
    torch.manual_seed(seed)
    model = new_model(cfg, split.train.n_users, split.train.n_items, feature_dims(inputs))
    if cfg.train.init_from:
        warm_start(model, Path(cfg.train.init_from).expanduser(), seed, split)
    return model


def _saved_selection(out: Path, seed: int, key: str) -> FitResult | None:
    """How a seed's validated model was chosen, saved (with its weights) by an earlier run of the same
    fingerprint that stopped before its refit finished, or None."""
    path = out / f"seed{seed}-selected.json"
    if not path.is_file() or not (out / model_file(seed)).is_file():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved.get("fingerprint") != key:
        return None
    log.info(
        "seed %d: selection reused from %s (epoch %d); refitting", seed, out, saved["result"]["best_epoch"]
    )
    return FitResult(**saved["result"])


def _saved_seed(out: Path, seed: int, key: str, retrained: bool) -> dict[str, Any] | None:
    """A finished seed's record from an earlier run of the same fingerprint, or None."""
    path = out / f"seed{seed}.json"
    if not path.is_file() or not (out / model_file(seed, retrained)).is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None  # written atomically, so only a hand-edited file gets here: retrain
    return cast(dict[str, Any], saved["run"]) if saved.get("fingerprint") == key else None


def _save_extra_edges(extra: sp.csr_matrix | None, out: Path) -> None:
    """Keep the extra graph edges with the run, so it stands alone; remove a stale file."""
    path = out / GRAPH_EDGES
    if extra is None or not extra.nnz:
        path.unlink(missing_ok=True)
        return
    atomic_write(path, lambda f: sp.save_npz(f, extra.tocsr()), binary=True)


def test_model(
    model: torch.nn.Module,
    graph: Graph | None,
    split: Split,
    cfg: RunConfig,
    show_progress: bool | None = None,
    activity: np.ndarray | None = None,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Test metrics of a trained model with train and valid items masked, overall and by user activity.

    `activity` (training interactions per user) splits the test users into `cfg.eval.activity_groups`
    equal groups, least active first: the long tail.
    """
    scorer = model_scorer(model, graph, cfg.eval.screen_flag())
    total = len(split.test.active_users())
    disable = None if show_progress is None else not show_progress
    with tqdm(total=total, desc="test", unit="user", leave=False, disable=disable) as bar:
        users, values = evaluate_users(
            scorer, split.test, [split.train, split.valid], cfg.eval.ks, cfg.eval.batch_size, bar.update
        )
    overall = {name: float(v.mean(dtype=np.float64)) for name, v in values.items()}
    if activity is None:
        activity = np.diff(split.train.user_items.indptr)
    return overall, group_means(users, values, activity, cfg.eval.activity_groups)


def summarise(
    cfg: RunConfig, prepared: Prepared, runs: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    """metrics.json content: means and standard deviations over seeds, plus each run."""
    split = prepared.split
    return {
        "dataset": cfg.data.dataset,
        "model": cfg.model.name,
        "seeds": [r["seed"] for r in runs],
        **over_seeds(runs),
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


def _short(metrics: dict[str, float]) -> str:
    """Recall and NDCG at 20 for log lines."""
    return " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k in ("recall@20", "ndcg@20"))


def load_trained(run_dir: Path, name: str | None = None) -> TrainedRun:
    """A finished run folder as a `TrainedRun`: its config, split, inputs, graph and metrics."""
    cfg = load_run_config(run_dir)
    split = load_split(run_dir)
    inputs = load_saved_inputs(run_dir)
    extra = sp.load_npz(run_dir / GRAPH_EDGES).tocsr() if (run_dir / GRAPH_EDGES).is_file() else None
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        raise DataError(f"{run_dir} holds no finished training (metrics.json is missing)")
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    graph = model_graph(cfg, split, inputs, extra)
    test_graph = model_graph(cfg, refit_split(split), inputs, extra) if retrains(cfg) else graph
    return TrainedRun(name or run_dir.name, cfg, run_dir, split, metrics, graph, test_graph, inputs, extra)


__all__ = [
    "GRAPH_EDGES",
    "Prepared",
    "TrainedRun",
    "load_trained",
    "model_graph",
    "prepare",
    "refit_split",
    "retrains",
    "test_model",
    "train_seeds",
]
