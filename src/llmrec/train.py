"""The training loop: BPR batches, Adam, early stopping and model selection on validation only."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, cast

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from llmrec import distributed
from llmrec.config import EvalConfig, TrainConfig
from llmrec.data.interactions import Interactions
from llmrec.data.sampler import AugmentedSampler, BPRSampler
from llmrec.errors import ConfigError, TrainingError
from llmrec.evaluate import METRICS, evaluate, model_scorer
from llmrec.models import ClosedForm, GraphLike, Trainable, capabilities_of
from llmrec.models.base import EpochViews
from llmrec.significance import LOWER_IS_BETTER

log = logging.getLogger("llmrec")

_default_threads: int | None = None  # torch's own choice, read once before we first change it

# Below this many training edges a second thread buys nothing, and when another process holds a
# core, OpenMP's spinning workers made a BPR-MF epoch on ML-100K 60x slower (8 s instead of 0.13 s).
SINGLE_THREAD_EDGES = 200_000


@dataclass
class FitResult:
    """What `fit` learned about the run; the model itself is left holding the selected weights."""

    best_epoch: int
    best_valid: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    stopped_by: str = "epochs"  # epochs | patience | time | closed-form (a training-free model)


class Checkpoint(Protocol):
    """Where `fit` keeps a resumable state of its training loop; the caller owns the storage.

    `fit` saves at the end of an epoch once `interval` seconds have passed since its last save (or
    its start), and when it stops early. Given a saved state it continues from it: model, Adam,
    schedule, the sampler's and the models' random streams, and the selection so far, so a resumed
    run trains exactly as an unbroken one would.
    """

    @property
    def interval(self) -> float:
        """Seconds between saves; 0 saves after every epoch."""
        ...

    def load(self) -> dict[str, Any] | None:
        """The last saved state, or None to start from the first epoch."""
        ...

    def save(self, state: dict[str, Any]) -> None:
        """Replace the saved state; a kill during the save must leave the previous one readable."""
        ...


def validate(
    model: nn.Module, graph: GraphLike | None, valid: Interactions, train: Interactions, eval_cfg: EvalConfig
) -> dict[str, float]:
    """Validation metrics with training items masked; sharded by users over the ranks of a process group."""
    scorer = model_scorer(model, graph, eval_cfg.screen_flag())
    group = distributed.active()
    if group is None or group.world == 1:
        return evaluate(scorer, valid, [train], eval_cfg.ks, eval_cfg.batch_size)
    return distributed.sharded_evaluate(scorer, valid, train, eval_cfg.ks, eval_cfg.batch_size, group)


def fit(
    model: nn.Module,
    train: Interactions,
    valid: Interactions | None,
    graph: GraphLike | None,
    cfg: TrainConfig,
    eval_cfg: EvalConfig,
    seed: int,
    show_progress: bool | None = None,
    augmented: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    stop_after: int = 0,
    checkpoint: Checkpoint | None = None,
) -> FitResult:
    """Train `model` with BPR and Adam; keep the weights with the best validation `cfg.metric`.

    Stops after `cfg.epochs`, after `cfg.patience` evaluations without improvement (once
    `cfg.min_epochs` are done), or when
    `cfg.max_minutes` is spent. Test data never enters this function. A model declared `closed_form`
    (GF-CF, popularity) is solved once by its `fit(user_items)` on the graph's edges instead.
    A model declared `epoch_views` (SGL) draws its views of the graph before each epoch.
    `augmented` (user, pos, neg) index arrays, e.g. LLM-chosen pairs, add `cfg.aug_rate` triples per
    original edge to each batch: as three more tensors for a model declared `augmented_triples`
    (LLMRec weighs and prunes them apart), else appended to the batch's own BPR triples.

    Without `valid` (a refit on train + valid, `train.refit`), nothing is evaluated: the model is
    trained for `stop_after` epochs of the same `cfg.epochs`-long schedule and keeps its last weights.
    With a `checkpoint`, the loop's state is saved as it goes and a saved one is resumed.
    """
    check_train_config(cfg, eval_cfg)
    if capabilities_of(model).sequential:
        raise ConfigError(
            f"{type(model).__name__} learns from time-ordered sequences, not (user, item) pairs: train it "
            'through its method (methods = ["sasrec"] in `llmrec run`), which uses llmrec.seqtrain'
        )
    torch.set_num_threads(choose_threads(cfg.threads, train.nnz))
    if capabilities_of(model).closed_form:
        if valid is None:
            raise ConfigError(f"{type(model).__name__} is solved in closed form: it needs validation data")
        return _fit_closed_form(cast(ClosedForm, model), train, valid, graph, eval_cfg, cfg.refit)
    if valid is None:
        return _fit_blind(
            model, train, graph, cfg, seed, show_progress, augmented, stop_after or cfg.epochs, checkpoint
        )
    trainer = _Trainer(model, train, augmented, cfg, seed)
    loop = _Selection(result=FitResult(best_epoch=0, best_valid={cfg.metric: -math.inf}))
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        trainer.restore(saved["trainer"])
        loop = _Selection.from_state(saved["selection"])
        log.info(
            "resuming after epoch %d of %d (best so far: epoch %d)",
            loop.epoch,
            cfg.epochs,
            loop.result.best_epoch,
        )
    start = time.perf_counter() - loop.elapsed
    first = cfg.epochs + 1 if loop.result.stopped_by != "epochs" else loop.epoch + 1
    epochs = tqdm(
        range(first, cfg.epochs + 1),
        initial=loop.epoch,
        total=cfg.epochs,
        desc="train",
        unit="epoch",
        disable=_quiet(show_progress),
    )
    saver = _Saver(checkpoint)
    for epoch in epochs:
        epoch_start = time.perf_counter()
        loss = trainer.epoch(graph)
        loop.train_time += time.perf_counter() - epoch_start
        loop.epoch = epoch
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            metrics = validate(model, graph, valid, train, eval_cfg)
            if cfg.metric not in metrics:
                raise ValueError(f"validation metric {cfg.metric!r} not computed; have {sorted(metrics)}")
            loop.elapsed = time.perf_counter() - start
            score = loop.record(epoch, loss, metrics, cfg.metric, model)
            epochs.set_postfix(
                loss=f"{loss:.4f}", **{cfg.metric: f"{score:.4f}"}, best=loop.result.best_epoch
            )
            log.info(
                "epoch %d loss %.4f valid %s %.4f (best %d)",
                epoch,
                loss,
                cfg.metric,
                score,
                loop.result.best_epoch,
            )
            if loop.bad_evals >= cfg.patience and epoch >= cfg.min_epochs:
                loop.result.stopped_by = "patience"
            elif distributed.from_main(bool(cfg.max_minutes and loop.elapsed > cfg.max_minutes * 60)):
                loop.result.stopped_by = "time"  # rank 0's clock decides, so every rank stops together
        stopping = loop.result.stopped_by != "epochs"
        if saver.due(stopping):
            loop.elapsed = time.perf_counter() - start
            saver.save({"trainer": trainer.state(), "selection": loop.state()})
        if stopping:
            break
    epochs.close()
    loop.result.train_seconds = time.perf_counter() - start
    if loop.best_state is not None:
        model.load_state_dict(loop.best_state)
    return loop.result


@dataclass
class _Selection:
    """`fit`'s progress through validated training: epochs done, the best model and when it was seen."""

    result: FitResult
    epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    bad_evals: int = 0
    train_time: float = 0.0  # time in training steps only, without validation: the cost of an epoch
    elapsed: float = 0.0  # wall time of the loop until the last validation or save

    def record(
        self, epoch: int, loss: float, metrics: dict[str, float], metric: str, model: nn.Module
    ) -> float:
        """Add a validation to the history; keep a copy of `model`'s weights if it is the best yet."""
        self.result.history.append(
            {
                "epoch": epoch,
                "loss": loss,
                "seconds": self.elapsed,
                "train_seconds": self.train_time,
                "valid": metrics,
            }
        )
        score = metrics[metric]
        if score > self.result.best_valid[metric]:
            self.result.best_epoch, self.result.best_valid = epoch, metrics
            self.best_state = copy.deepcopy(model.state_dict())
            self.bad_evals = 0
        else:
            self.bad_evals += 1
        return score

    def state(self) -> dict[str, Any]:
        """Everything but the trainer's state, for a `Checkpoint`."""
        return {
            "result": asdict(self.result),
            "epoch": self.epoch,
            "best_state": self.best_state,
            "bad_evals": self.bad_evals,
            "train_time": self.train_time,
            "elapsed": self.elapsed,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> _Selection:
        """The inverse of `state`."""
        fields = {k: v for k, v in state.items() if k != "result"}
        return cls(result=FitResult(**state["result"]), **fields)


def _fit_blind(
    model: nn.Module,
    train: Interactions,
    graph: GraphLike | None,
    cfg: TrainConfig,
    seed: int,
    show_progress: bool | None,
    augmented: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    stop_after: int,
    checkpoint: Checkpoint | None = None,
) -> FitResult:
    """Train for `stop_after` epochs of `cfg`'s schedule with no validation; the last weights stay.

    The same `_Trainer` as `fit`'s, so on the same data this replays the selection run's trajectory
    up to `stop_after`. A `checkpoint` is saved as in `fit` and resumed if it was saved for the same
    `stop_after`.
    """
    trainer = _Trainer(model, train, augmented, cfg, seed)
    history: list[dict[str, Any]] = []
    done, elapsed = 0, 0.0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None and saved["stop_after"] == stop_after:
        trainer.restore(saved["trainer"])
        done, history, elapsed = saved["epoch"], saved["history"], saved["elapsed"]
        log.info("resuming the refit after epoch %d of %d", done, stop_after)
    start = time.perf_counter() - elapsed
    saver = _Saver(checkpoint)
    epochs = range(done + 1, stop_after + 1)
    for epoch in tqdm(
        epochs, initial=done, total=stop_after, desc="refit", unit="epoch", disable=_quiet(show_progress)
    ):
        loss = trainer.epoch(graph)
        elapsed = time.perf_counter() - start
        history.append({"epoch": epoch, "loss": loss, "seconds": elapsed, "train_seconds": elapsed})
        log.info("refit epoch %d/%d loss %.4f", epoch, stop_after, loss)
        if epoch < stop_after and saver.due(False):
            state = {"stop_after": stop_after, "epoch": epoch, "history": history, "elapsed": elapsed}
            saver.save({"trainer": trainer.state(), **state})
    return FitResult(stop_after, {}, history, time.perf_counter() - start, stopped_by="epochs")


class _Saver:
    """Saves to a `Checkpoint` (if any) when its interval has passed, or when told training stops."""

    def __init__(self, checkpoint: Checkpoint | None, clock: Callable[[], float] = time.perf_counter) -> None:
        self.checkpoint, self.clock = checkpoint, clock
        self.last = clock()

    def due(self, stopping: bool) -> bool:
        """Whether a save is wanted now: a checkpoint exists and training stops or the interval passed."""
        if self.checkpoint is None:
            return False
        return stopping or self.clock() - self.last >= self.checkpoint.interval

    def save(self, state: dict[str, Any]) -> None:
        """Save `state` and restart the interval."""
        assert self.checkpoint is not None  # only called after `due`
        group = distributed.active()
        if group is None or group.is_main:  # one writer; every rank resumes from its file
            self.checkpoint.save(state)
        self.last = self.clock()


class _Trainer:
    """The seeded state of one training run (sampler, per-epoch stream, Adam, schedule) and its step."""

    def __init__(
        self,
        model: nn.Module,
        train: Interactions,
        augmented: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
        cfg: TrainConfig,
        seed: int,
    ) -> None:
        self.model, self.batch_size = model, cfg.batch_size
        self.sampler = _sampler(model, train, augmented, cfg, seed)
        # its own stream: a generator seeded with `seed` alone would replay the sampler's draws
        self.epoch_rng = np.random.default_rng([seed, 1])
        self.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        self.loss_fn = distributed.loss_function(model)  # DDP when a process group is active
        self.scheduler = make_scheduler(self.optimizer, cfg)

    def state(self) -> dict[str, Any]:
        """The weights, Adam's moments, the schedule and every random stream, between two epochs."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "sampler": self.sampler.state(),
            "epoch_rng": self.epoch_rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),  # SimGCL's noise, dropout
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a `state()` of a trainer built with the same model, data, config and seed."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.sampler.set_state(state["sampler"])
        self.epoch_rng.bit_generator.state = state["epoch_rng"]
        torch.set_rng_state(state["torch_rng"])

    def epoch(self, graph: GraphLike | None) -> float:
        """One epoch (after the model's `start_epoch`, e.g. SGL's new views), then the schedule's
        step; returns the mean batch loss."""
        if capabilities_of(self.model).epoch_views:
            assert graph is not None  # a model that draws views of a graph is a graph model
            cast(EpochViews, self.model).start_epoch(graph, self.epoch_rng)
        loss = _train_epoch(self.model, self.sampler, self.optimizer, graph, self.batch_size, self.loss_fn)
        if self.scheduler is not None:
            self.scheduler.step()
        return distributed.mean_over_ranks(loss)


def _sampler(
    model: nn.Module,
    train: Interactions,
    augmented: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    cfg: TrainConfig,
    seed: int,
) -> BPRSampler | AugmentedSampler:
    """BPR triples of `train` (`cfg.negatives` candidates per edge for a model that takes
    `hard_negatives`), plus `augmented` ones (apart for a model declared `augmented_triples`)."""
    check_negatives(type(model), cfg.negatives)
    if augmented is None or not len(augmented[0]):
        return BPRSampler(train, seed, cfg.negatives)
    apart = capabilities_of(model).augmented_triples  # weighed apart (LLMRec), or part of the BPR batch
    return AugmentedSampler(train, augmented, cfg.aug_rate, seed, merged=not apart, n_negatives=cfg.negatives)


def _fit_closed_form(
    model: ClosedForm,
    train: Interactions,
    valid: Interactions,
    graph: GraphLike | None,
    eval_cfg: EvalConfig,
    refit: bool,
) -> FitResult:
    """Solve a training-free model from the graph's edges and record its validation metrics; with
    `refit`, solve it again on those edges plus valid's, for the test."""
    start = time.perf_counter()
    edges = train.user_items if graph is None else graph.user_items
    model.fit(edges)
    fit_seconds = time.perf_counter() - start
    metrics = validate(cast(nn.Module, model), graph, valid, train, eval_cfg)
    if refit:
        model.fit(fit_edges(edges, valid, refit))
    seconds = time.perf_counter() - start
    log.info("closed-form fit in %.1f s, with validation %.1f s", fit_seconds, seconds)
    history = [{"epoch": 0, "loss": None, "seconds": seconds, "train_seconds": fit_seconds, "valid": metrics}]
    return FitResult(0, metrics, history, train_seconds=seconds, stopped_by="closed-form")


def fit_edges(edges: Any, valid: Interactions, refit: bool) -> Any:
    """The edges a closed-form model's test-time fit reads: `edges`, plus valid's with `refit`."""
    if not refit:
        return edges
    both = (edges + valid.user_items).tocsr()
    both.data[:] = 1.0
    return both


def choose_threads(requested: int, n_edges: int) -> int:
    """Threads for training: as requested, else one for small training sets, else torch's default."""
    global _default_threads
    if _default_threads is None:
        _default_threads = torch.get_num_threads()
    if requested > 0:
        return requested
    return 1 if n_edges < SINGLE_THREAD_EDGES else _default_threads


def check_train_config(cfg: TrainConfig, eval_cfg: EvalConfig) -> None:
    """Reject settings that would only fail (or silently misbehave) mid-training."""
    name, _, k = cfg.metric.partition("@")
    rating = cfg.metric in LOWER_IS_BETTER  # RMSE, MAE: the planner checks that only rating methods run
    if not rating and (name not in METRICS or not k.isdigit() or int(k) not in eval_cfg.ks):
        raise ConfigError(
            f"train.metric {cfg.metric!r} is not computed; use one of {list(METRICS)} "
            f"at a K in eval.ks {list(eval_cfg.ks)} (rating methods: {sorted(LOWER_IS_BETTER)})"
        )
    if not 0 <= cfg.min_epochs <= cfg.epochs:
        raise ConfigError(
            f"train.min_epochs must lie in [0, train.epochs ({cfg.epochs})], got {cfg.min_epochs}"
        )
    for key in ("epochs", "batch_size", "eval_every", "patience", "negatives"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"train.{key} must be at least 1, got {getattr(cfg, key)}")
    if cfg.lr <= 0:
        raise ConfigError(f"train.lr must be positive, got {cfg.lr}")
    if cfg.aug_rate <= 0:
        raise ConfigError(f"train.aug_rate must be positive, got {cfg.aug_rate}")
    if cfg.lr_schedule not in ("constant", "cosine"):
        raise ConfigError(f"unknown train.lr_schedule {cfg.lr_schedule!r}; use 'constant' or 'cosine'")


def check_negatives(model: type, negatives: int) -> None:
    """Reject `train.negatives` > 1 for a trained model whose loss takes uniform negatives only."""
    caps = capabilities_of(model)
    if negatives > 1 and not caps.closed_form and not caps.hard_negatives:
        raise ConfigError(
            f"{model.__name__} trains on uniform negatives only: set train.negatives = 1 for it "
            f"(got {negatives}; [train_by_model.NAME] sets it per model)"
        )


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> Any:
    """Per-epoch learning-rate schedule, or None for a constant rate."""
    if cfg.lr_schedule == "constant":
        return None
    if cfg.lr_schedule == "cosine":
        # Large batches need a high rate early; decaying it recovers the accuracy of small-lr training.
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=cfg.epochs, eta_min=cfg.lr * cfg.lr_final
        )
    raise ConfigError(f"unknown train.lr_schedule {cfg.lr_schedule!r}; use 'constant' or 'cosine'")


def _train_epoch(
    model: nn.Module,
    sampler: BPRSampler | AugmentedSampler,
    optimizer: torch.optim.Optimizer,
    graph: GraphLike | None,
    batch_size: int,
    loss_fn: Callable[[tuple[torch.Tensor, ...], Any], torch.Tensor] | None = None,
) -> float:
    """One pass over all training edges; returns the mean batch loss. In a process group each rank
    takes its share of every batch and `loss_fn` (DDP) averages the gradients."""
    model.train()
    group = distributed.active()
    compute = loss_fn or cast(Trainable, model).loss
    total, n = 0.0, 0
    for arrays in sampler.epoch(batch_size):
        weight = 1.0
        if group is not None and group.world > 1 and len(arrays[0]) >= group.world:
            full = len(arrays[0])
            arrays = distributed.shard(arrays, group)  # a smaller batch: every rank takes all of it
            weight = group.world * len(arrays[0]) / full  # unequal shares: DDP's mean is the batch mean
        batch = tuple(torch.from_numpy(a) for a in arrays)
        # six tensors only when fit checked that the model takes `augmented_triples`
        loss = compute(batch, graph)
        if weight != 1.0:
            loss = loss * weight
        if not torch.isfinite(loss):
            raise TrainingError(
                f"{type(model).__name__}: training loss became {loss.item()} at batch {n + 1} of an epoch; "
                "lower train.lr (or the model's loss weights); finished seeds are kept and reused on rerun"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item()
        n += 1
    return total / max(n, 1)


def _quiet(show: bool | None) -> bool | None:
    """tqdm's `disable`: None lets tqdm hide bars when the output is not a terminal."""
    return None if show is None else not show
