"""Sequential recommendation over seeds: fit on time-ordered histories -> test once -> record.

The sequential counterpart of `experiment.train_seeds`. A seed whose model and record are in the run
folder under the same fingerprint (config, split, training sequences) is reused, so a killed run
continues from the last finished seed. Validation ranks every item after the training sequence with
training items masked; the test ranks every item after the training sequence plus the validation
item, with both masked (the protocol of every other model in llmrec).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from llmrec import config as cfgmod
from llmrec.atomic import write_json
from llmrec.config import RunConfig
from llmrec.data.dataset import Dataset, Split
from llmrec.data.sequences import SequenceSplit, sequence_split
from llmrec.errors import DataError
from llmrec.evaluate import group_means, over_seeds
from llmrec.factory import model_options, new_model
from llmrec.fingerprint import run_fingerprint
from llmrec.rundir import atomic_torch_save, model_file, save_split
from llmrec.seqtrain import evaluate_sequences, fit_sequential

log = logging.getLogger("llmrec")


@dataclass
class SequentialRun:
    """A sequential model trained over seeds: its config, folder, split, metrics and the training
    sequences it learned from (augmented ones for an augmented run). `model(seed)` loads a seed's."""

    name: str
    cfg: RunConfig
    out: Path
    split: SequenceSplit
    train: list[np.ndarray]
    metrics: dict[str, Any]
    _models: dict[int, torch.nn.Module] = field(default_factory=dict, repr=False)

    @property
    def seeds(self) -> list[int]:
        """The seeds it was trained with."""
        return [self.cfg.seed + i for i in range(self.cfg.seeds)]

    @property
    def max_len(self) -> int:
        """The model's window."""
        return int(model_options(self.cfg.model, self.cfg.model.name).max_len)

    def valid_score(self, metric: str) -> float:
        """Its mean validation `metric` over seeds (-inf when not computed)."""
        return float(self.metrics["valid"].get(metric, float("-inf")))

    def model(self, seed: int | None = None) -> torch.nn.Module:
        """A seed's selected model in evaluation mode (default: the first seed)."""
        seed = self.seeds[0] if seed is None else seed
        if seed not in self._models:
            model = new_model(self.cfg, self.split.n_users, self.split.n_items)
            state = torch.load(self.out / model_file(seed), map_location="cpu", weights_only=True)
            model.load_state_dict(state)
            self._models[seed] = model.eval()
        return self._models[seed]


SEQUENCES = "sequences"  # the run's time-ordered split, built once per run


def sequences_of(values: dict[str, Any], prepared: Any) -> SequenceSplit:
    """The run's sequential split (built once, kept in `values`), checked against the run's `loo`
    split: both must hold out the same items, or the run's methods would not be comparable."""
    if SEQUENCES not in values:
        split = sequence_split(prepared.dataset)
        edges, run = split.interactions(), prepared.split
        for part in ("train", "valid", "test"):
            if (getattr(edges, part).user_items != getattr(run, part).user_items).nnz:
                raise DataError(
                    f"the time-ordered split's {part} items differ from the run's {run.method!r} split; "
                    'sequential methods need [split] method = "loo"'
                )
        values[SEQUENCES] = split
    return cast(SequenceSplit, values[SEQUENCES])


def split_key(split: SequenceSplit, train: list[np.ndarray]) -> str:
    """A content hash of the held-out items and the training sequences, in order."""
    digest = hashlib.sha256()
    for part in (split.valid, split.test, np.array([len(s) for s in train])):
        digest.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
    for s in train:
        digest.update(np.ascontiguousarray(s, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def train_sequential(
    cfg: RunConfig,
    split: SequenceSplit,
    dataset: Dataset,
    out: Path,
    *,
    name: str | None = None,
    train: list[np.ndarray] | None = None,
    method_key: Any = None,
) -> SequentialRun:
    """Train `cfg.model` (a sequential model) over `cfg.seeds` seeds on `train` (default: the split's
    own training sequences), test each selected model once, write the run folder."""
    train = split.train if train is None else train
    out.mkdir(parents=True, exist_ok=True)
    edges = split.interactions()
    # what `llmrec train` hashes (the seed count and other methods' tables left out), plus the sequences
    key = run_fingerprint(cfg, edges, None, (method_key, split_key(split, train)))
    save_split(edges, dataset, out)
    (out / "config.toml").write_text(cfgmod.dumps_toml(cfg), encoding="utf-8")
    run = SequentialRun(name or cfg.model.name, cfg, out, split, train, {})
    lengths = split.lengths()
    runs, start = [], time.perf_counter()
    for seed in run.seeds:
        saved = _saved_seed(out, seed, key)
        if saved is not None:
            log.info("seed %d: reused from %s (fingerprint %s)", seed, out, key)
            runs.append(saved)
            continue
        torch.manual_seed(seed)
        model = new_model(cfg, split.n_users, split.n_items)
        result = fit_sequential(
            model, train, edges.valid, edges.train, cfg.train, cfg.eval, seed, run.max_len
        )
        atomic_torch_save(model.state_dict(), out / model_file(seed))
        run._models[seed] = model
        test, groups = test_sequential(model, split, edges, cfg, lengths, run.max_len)
        record = {"seed": seed, "best_epoch": result.best_epoch, "stopped_by": result.stopped_by,
                  "train_seconds": result.train_seconds, "valid": result.best_valid, "test": test,
                  "test_by_activity": groups, "history": result.history}  # fmt: skip
        write_json(out / f"seed{seed}.json", {"fingerprint": key, "run": record})
        runs.append(record)
        log.info("seed %d: best epoch %d, test ndcg@10 %.4f", seed, result.best_epoch, test.get("ndcg@10", 0))
    run.metrics = summarise(cfg, split, edges, runs, time.perf_counter() - start)
    run.metrics.update(fingerprint=key, sequences=_sequence_note(split, train))
    write_json(out / "metrics.json", run.metrics)
    return run


def test_sequential(
    model: torch.nn.Module,
    split: SequenceSplit,
    edges: Split,
    cfg: RunConfig,
    lengths: np.ndarray,
    max_len: int,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Test metrics after train + valid histories, train and valid items masked; by activity too."""
    users, values = evaluate_sequences(
        model, split.with_valid(), edges.test, [edges.train, edges.valid], cfg.eval.ks, max_len
    )
    overall = {k: float(v.mean(dtype=np.float64)) for k, v in values.items()}
    return overall, group_means(users, values, lengths, cfg.eval.activity_groups)


def summarise(
    cfg: RunConfig, split: SequenceSplit, edges: Split, runs: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    """metrics.json content, in the shape every trained method writes."""
    return {
        "dataset": cfg.data.dataset,
        "model": cfg.model.name,
        "seeds": [r["seed"] for r in runs],
        **over_seeds(runs),
        "runs": runs,
        "train_seconds": seconds,
        "split": {
            "method": "loo (time-ordered sequences)",
            "n_users": split.n_users,
            "n_items": split.n_items,
            "train": edges.train.nnz,
            "valid": edges.valid.nnz,
            "test": edges.test.nnz,
            "notes": split.notes(),
            "counts": split.counts,
        },
        "config": cfgmod.to_dict(cfg),
    }


def _sequence_note(split: SequenceSplit, train: list[np.ndarray]) -> dict[str, int]:
    """How many training items the run saw, and how many more than the split holds (augmentation)."""
    own, used = int(split.lengths().sum()), int(sum(len(s) for s in train))
    return {"training_items": used, "added": used - own}


def _saved_seed(out: Path, seed: int, key: str) -> dict[str, Any] | None:
    """A finished seed's record from an earlier run of the same fingerprint, or None."""
    path = out / f"seed{seed}.json"
    if not path.is_file() or not (out / model_file(seed)).is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    return cast(dict[str, Any], saved["run"]) if saved.get("fingerprint") == key else None


__all__ = ["SEQUENCES", "SequentialRun", "sequences_of", "split_key", "test_sequential", "train_sequential"]
