"""Rating prediction: train an explicit-rating model over seeds, select on validation RMSE, test once.

`fit_rating` is the training loop (Adam on minibatches of (user, item, rating[, attribute slots]),
validation RMSE after every `eval_every` epochs, early stop after `patience` evaluations without
improvement, the best weights kept). `train_rating_seeds` runs it for every seed of a run, writing
each seed's record and validation/test predictions into its folder under a fingerprint of
everything it depends on, so a rerun reuses finished seeds. Predictions are clipped to the scale;
users and items with no training rating are mapped to the model's unknown row (bias-only).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from llmrec import config as cfgmod
from llmrec.atomic import atomic_write, write_json
from llmrec.config import TrainConfig
from llmrec.evaluate import over_seeds
from llmrec.models import RATING_MODELS
from llmrec.models.base import RatingModel
from llmrec.tasks.rating_data import Fields, Ratings, RatingSplit
from llmrec.train import choose_threads

log = logging.getLogger("llmrec")
RATING_METRICS = ("rmse", "mae")


def rating_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """RMSE and MAE of predictions against true ratings."""
    error = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    if not len(error):
        raise ValueError("no ratings to evaluate")
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}


def new_rating_model(name: str, options: Any, split: RatingSplit, fields: Fields) -> nn.Module:
    """An untrained rating model `name` of RATING_MODELS with its knobs, the global mean and the fields."""
    spec = RATING_MODELS[name]
    extra: dict[str, Any] = {"global_mean": float(split.train.ratings.mean())}
    if name == "deepfm":
        extra.update(attribute_sizes=fields.sizes, attribute_slots=fields.slots)
    return spec.cls(split.n_users, split.n_items, **dataclasses.asdict(options), **extra)


@dataclass
class Batches:
    """Model inputs of a set of ratings: ids mapped to the unknown row where untrained, and slots."""

    users: torch.Tensor
    items: torch.Tensor
    ratings: torch.Tensor
    attributes: torch.Tensor

    @classmethod
    def of(cls, part: Ratings, split: RatingSplit, fields: Fields) -> Batches:
        """The inputs of `part`: unknown users / items (no training rating) get index n_users / n_items."""
        users = np.where(split.known_users[part.users], part.users, split.n_users)
        items = np.where(split.known_items[part.items], part.items, split.n_items)
        attrs = fields.of(part.users, part.items) if fields.names else np.zeros((len(part), 0), np.int64)
        return cls(
            torch.as_tensor(users, dtype=torch.long),
            torch.as_tensor(items, dtype=torch.long),
            torch.as_tensor(part.ratings, dtype=torch.float32),
            torch.as_tensor(attrs, dtype=torch.long),
        )

    def take(self, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One minibatch as the model's `loss` takes it."""
        return self.users[index], self.items[index], self.ratings[index], self.attributes[index]


@torch.no_grad()
def predict(model: nn.Module, data: Batches, scale: tuple[float, float], batch: int = 65536) -> np.ndarray:
    """Predictions of every pair of `data`, clipped to the rating scale, in evaluation mode."""
    model.eval()
    out = []
    for start in range(0, len(data.users), batch):
        sl = slice(start, start + batch)
        attributes = data.attributes[sl] if data.attributes.shape[1] else None
        out.append(cast(RatingModel, model).predict(data.users[sl], data.items[sl], attributes))
    if not out:
        return np.zeros(0, dtype=np.float64)
    return torch.cat(out).clamp(*scale).double().numpy()


@dataclass
class RatingFit:
    """What training one seed left: the selected epoch, its validation metrics, the curve."""

    best_epoch: int
    best_valid: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str = "epochs"
    seconds: float = 0.0


def fit_rating(
    model: nn.Module,
    train: Batches,
    valid: Batches,
    cfg: TrainConfig,
    scale: tuple[float, float],
    seed: int,
    metric: str = "rmse",
) -> RatingFit:
    """Adam on shuffled minibatches; keep the weights with the lowest validation `metric` (rmse | mae)."""
    if metric not in RATING_METRICS:
        raise ValueError(f"rating models select on {RATING_METRICS}, not {metric!r}")
    torch.set_num_threads(choose_threads(cfg.threads, len(train.users)))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    start = time.perf_counter()
    result = RatingFit(0, {metric: math.inf})
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    waited = 0
    n = len(train.users)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        total = 0.0
        for index in torch.randperm(n, generator=generator).split(cfg.batch_size):
            optimizer.zero_grad()
            loss = cast(RatingModel, model).loss(train.take(index))
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        if epoch % cfg.eval_every and epoch != cfg.epochs:
            continue
        scores = rating_metrics(predict(model, valid, scale), valid.ratings.numpy())
        result.history.append(
            {"epoch": epoch, "loss": total / n, "valid": scores, "seconds": time.perf_counter() - start}
        )
        if scores[metric] < result.best_valid[metric]:
            result.best_epoch, result.best_valid = epoch, scores
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
            waited = 0
        else:
            waited += 1
        if waited >= cfg.patience and epoch >= cfg.min_epochs:
            result.stopped_by = "patience"
            break
        if cfg.max_minutes and time.perf_counter() - start > 60 * cfg.max_minutes:
            result.stopped_by = "max_minutes"
            break
    model.load_state_dict(best_state)
    result.seconds = time.perf_counter() - start
    return result


@dataclass
class RatingRun:
    """A rating model trained over seeds: its metrics.json content and each seed's predictions.

    It is the `Result` a run's summary reads: `valid_score` of a lower-is-better metric is its value.
    """

    name: str
    out: Path
    metrics: dict[str, Any]
    predictions: dict[int, dict[str, np.ndarray]]  # seed -> {"valid": [...], "test": [...]}

    @property
    def seeds(self) -> list[int]:
        """The seeds it ran."""
        return [int(r["seed"]) for r in self.metrics["runs"]]

    def valid_score(self, metric: str) -> float:
        """Its mean validation `metric` (+inf when not computed: worst for an error)."""
        return float(self.metrics["valid"].get(metric, math.inf))


def split_key(split: RatingSplit, fields: Fields) -> str:
    """A content hash of the split's ratings, its scale and the fields' values."""
    digest = hashlib.sha256()
    for part in (split.train, split.valid, split.test):
        for array in (part.users, part.items, part.ratings):
            digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(np.ascontiguousarray(fields.user_slots).tobytes())
    digest.update(np.ascontiguousarray(fields.item_slots).tobytes())
    digest.update(json.dumps([fields.names, fields.sizes, fields.slots, split.scale]).encode())
    return digest.hexdigest()[:16]


def train_rating_seeds(
    name: str,
    model: str,
    options: Any,
    train_cfg: TrainConfig,
    split: RatingSplit,
    fields: Fields,
    out: Path,
    seeds: list[int],
    metric: str = "rmse",
    extra: dict[str, Any] | None = None,
) -> RatingRun:
    """Train rating model `model` once per seed (reusing finished seeds), test each once; metrics.json.

    A seed's record (`seed-<s>.json`) and its validation and test predictions are written when it
    finishes, keyed by a fingerprint of the model, its knobs, the training settings, the split and fields.
    """
    key = cfgmod.fingerprint(model, options, train_cfg, split_key(split, fields), metric)
    train, valid, test = (Batches.of(p, split, fields) for p in (split.train, split.valid, split.test))
    runs, predictions = [], {}
    for seed in seeds:
        record, preds = _saved_seed(out, seed, key)
        if record is None:
            record, preds = _train_seed(
                model, options, train_cfg, split, fields, (train, valid, test), seed, metric
            )
            record["fingerprint"] = key
            _save_predictions(out / f"seed-{seed}.npz", preds)
            write_json(out / f"seed-{seed}.json", record)
        else:
            log.info("%s seed %d: reused (same fingerprint)", name, seed)
        runs.append(record)
        predictions[seed] = preds
    metrics = {
        "model": model,
        "task": "rating",
        "seeds": seeds,
        **over_seeds(runs),
        "runs": runs,
        "train_seconds": float(sum(r["train_seconds"] for r in runs)),
        "split": split.describe(),
        "fields": {"user": "id", "item": "id", **fields.describe()},
        "fingerprint": key,
        **(extra or {}),
    }
    write_json(out / "metrics.json", metrics)
    return RatingRun(name, out, metrics, predictions)


def _train_seed(
    model_name: str,
    options: Any,
    train_cfg: TrainConfig,
    split: RatingSplit,
    fields: Fields,
    data: tuple[Batches, Batches, Batches],
    seed: int,
    metric: str,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One seed: initialise from the seed, fit with validation selection, predict valid and test."""
    train, valid, test = data
    torch.manual_seed(seed)
    model = new_rating_model(model_name, options, split, fields)
    fit = fit_rating(model, train, valid, train_cfg, split.scale, seed, metric)
    preds = {"valid": predict(model, valid, split.scale), "test": predict(model, test, split.scale)}
    record = {
        "seed": seed,
        "best_epoch": fit.best_epoch,
        "stopped_by": fit.stopped_by,
        "valid": rating_metrics(preds["valid"], split.valid.ratings),
        "test": rating_metrics(preds["test"], split.test.ratings),
        "history": fit.history,
        "train_seconds": fit.seconds,
    }
    return record, preds


def _save_predictions(path: Path, preds: dict[str, np.ndarray]) -> None:
    """A seed's validation and test predictions, written atomically."""
    atomic_write(path, lambda f: np.savez(f, valid=preds["valid"], test=preds["test"]), binary=True)


def _saved_seed(out: Path, seed: int, key: str) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """A finished seed of the same fingerprint, with its predictions, or (None, {})."""
    record_path, preds_path = out / f"seed-{seed}.json", out / f"seed-{seed}.npz"
    if not (record_path.is_file() and preds_path.is_file()):
        return None, {}
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if record.get("fingerprint") != key:
        return None, {}
    with np.load(preds_path) as saved:
        return record, {k: saved[k] for k in saved.files}


__all__ = [
    "RATING_METRICS",
    "Batches",
    "RatingFit",
    "RatingRun",
    "fit_rating",
    "new_rating_model",
    "predict",
    "rating_metrics",
    "split_key",
    "train_rating_seeds",
]
