"""The training loop of sequential models (SASRec): next-item batches, Adam, selection on validation.

Every position of a user's training sequence predicts the next item (the paper's objective); a
negative per position is drawn uniformly from the items the user never trained on. Validation ranks
every item after the training sequence with training items masked; the weights with the best
`cfg.metric` are kept. Test data never enters this module.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from typing import cast

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from llmrec.config import EvalConfig, TrainConfig
from llmrec.data.interactions import Interactions
from llmrec.data.sequences import padded
from llmrec.errors import TrainingError
from llmrec.evaluate import evaluate_users
from llmrec.models.base import Trainable
from llmrec.train import FitResult, check_train_config, choose_threads, make_scheduler

log = logging.getLogger("llmrec")
RESAMPLES = 10  # rounds of redrawing negatives that hit a trained item; what is left is counted


def sequence_scorer(model: nn.Module, inputs: np.ndarray) -> Callable[[torch.Tensor], torch.Tensor]:
    """`score(users)` for `llmrec.evaluate`: every item after each user's padded history in `inputs`."""
    seqs = torch.from_numpy(inputs)
    model.eval()

    def score(users: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return cast(Trainable, model).score(users, seqs)

    return score


def evaluate_sequences(
    model: nn.Module,
    histories: list[np.ndarray],
    truth: Interactions,
    exclude: list[Interactions],
    ks: tuple[int, ...],
    max_len: int,
    batch_size: int = 1024,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """All-ranking metrics per user of `truth` after each user's history; `exclude`'s items masked."""
    scorer = sequence_scorer(model, padded(histories, max_len))
    return evaluate_users(scorer, truth, exclude, ks, batch_size)


class NextItemBatches:
    """Seeded (inputs, positives, negatives) batches of every user with at least two training items."""

    def __init__(self, train: list[np.ndarray], n_items: int, max_len: int, seed: int) -> None:
        full = padded(train, max_len + 1)
        # a position predicts the next item only from a real item: the first item is never a target
        self.inputs = full[:, :-1]
        self.positives = np.where(self.inputs > 0, full[:, 1:], 0)
        self.users = np.flatnonzero([len(s) >= 2 for s in train])
        rows = np.repeat(np.arange(len(train)), [len(s) for s in train])
        flat = np.concatenate(train) if train else np.zeros(0, np.int64)
        seen = sp.csr_matrix((np.ones(len(rows), bool), (rows, flat)), shape=(len(train), n_items))
        self.seen = seen.toarray()
        self.n_items = n_items
        self.rng = np.random.default_rng([seed, 7])
        self.collisions = 0  # negatives still equal to a trained item after RESAMPLES redraws

    def negatives(self, users: np.ndarray) -> np.ndarray:
        """[len(users), max_len] uniform unseen items (index + 1), 0 where the positive is padding."""
        shape = (len(users), self.positives.shape[1])
        neg = self.rng.integers(0, self.n_items, shape)
        rows = np.broadcast_to(users[:, None], shape)
        for _ in range(RESAMPLES):
            bad = self.seen[rows, neg]
            if not bad.any():
                break
            neg[bad] = self.rng.integers(0, self.n_items, int(bad.sum()))
        real = self.positives[users] > 0
        self.collisions += int((self.seen[rows, neg] & real).sum())
        return np.where(real, neg + 1, 0)

    def epoch(self, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """One shuffled pass over the users."""
        order = self.rng.permutation(self.users)
        out = []
        for start in range(0, len(order), batch_size):
            users = order[start : start + batch_size]
            arrays = (self.inputs[users], self.positives[users], self.negatives(users))
            out.append(cast(tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                            tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)))  # fmt: skip
        return out


def fit_sequential(
    model: nn.Module,
    train: list[np.ndarray],
    valid: Interactions,
    train_edges: Interactions,
    cfg: TrainConfig,
    eval_cfg: EvalConfig,
    seed: int,
    max_len: int,
) -> FitResult:
    """Train `model` on `train` sequences; keep the weights with the best validation `cfg.metric`.

    `train_edges` are the real training interactions masked at validation (augmented sequences may
    hold items the user never chose; those are not masked). Stops after `cfg.epochs`, after
    `cfg.patience` evaluations without improvement (once `cfg.min_epochs` are done), or after
    `cfg.max_minutes`.
    """
    check_train_config(cfg, eval_cfg)
    torch.set_num_threads(choose_threads(cfg.threads, train_edges.nnz))
    batches = NextItemBatches(train, valid.n_items, max_len, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    scheduler = make_scheduler(optimizer, cfg)
    result = FitResult(best_epoch=0, best_valid={cfg.metric: -math.inf})
    best_state, bad, start, train_time = None, 0, time.perf_counter(), 0.0
    cpu_start = time.process_time()  # CPU seconds of this process: wall time misleads on a shared machine
    for epoch in range(1, cfg.epochs + 1):
        tick = time.perf_counter()
        loss = _epoch(model, batches.epoch(cfg.batch_size), optimizer)
        if scheduler is not None:
            scheduler.step()
        train_time += time.perf_counter() - tick
        if epoch % cfg.eval_every and epoch != cfg.epochs:
            continue
        _, values = evaluate_sequences(model, train, valid, [train_edges], eval_cfg.ks, max_len)
        metrics = {k: float(v.mean(dtype=np.float64)) for k, v in values.items()}
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        result.history.append({"epoch": epoch, "loss": loss, "seconds": elapsed, "train_seconds": train_time,
                               "cpu_seconds": cpu, "valid": metrics})  # fmt: skip
        if metrics[cfg.metric] > result.best_valid[cfg.metric]:
            result.best_epoch, result.best_valid = epoch, metrics
            best_state, bad = copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
        log.info("epoch %d loss %.4f valid %s %.4f (best %d)", epoch, loss, cfg.metric,
                 metrics[cfg.metric], result.best_epoch)  # fmt: skip
        if bad >= cfg.patience and epoch >= cfg.min_epochs:
            result.stopped_by = "patience"
            break
        if cfg.max_minutes and elapsed > cfg.max_minutes * 60:
            result.stopped_by = "time"
            break
    result.train_seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    if batches.collisions:
        log.info(
            "%d sampled negatives equal a trained item (after %d redraws)", batches.collisions, RESAMPLES
        )
    return result


def _epoch(
    model: nn.Module,
    batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
) -> float:
    """One pass; the mean batch loss."""
    model.train()
    total = 0.0
    for n, batch in enumerate(batches, 1):
        loss = cast(Trainable, model).loss(batch, None)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"{type(model).__name__}: training loss became {loss.item()} at batch {n}; lower train.lr"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / max(len(batches), 1)


__all__ = ["NextItemBatches", "evaluate_sequences", "fit_sequential", "sequence_scorer"]
