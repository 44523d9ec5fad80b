"""The two training stages of the graph-aware transformer, each resumable from its checkpoint.

`pretrain`: crowd prompts each epoch: item text and second-order prompts (content LM loss, content
user/item tables) and one collaborative prompt per user (softmax over items, collaborative tables),
plus `mutual_weight` x the squared gap between the two embedding sets of the nodes a batch names.
`finetune`: personal prompts with `mask_ratio` of the history hidden; a multinomial likelihood over
all items of the hidden (and truncated-away) training items; validation after every epoch selects
the model, test is never read here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from llmrec.data.interactions import Interactions
from llmrec.evaluate import evaluate_users
from llmrec.gat.config import GatConfig
from llmrec.gat.data import GatData, training_subset
from llmrec.gat.prompts import IGNORE, Batch, Prompt, collate
from llmrec.models.graph_transformer import GraphTransformer
from llmrec.rundir import atomic_torch_save

log = logging.getLogger("llmrec")


@contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """Run with `n` torch CPU threads (0: unchanged), restoring the previous count after."""
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def pick_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def new_model(data: GatData, cfg: GatConfig, seed: int) -> GraphTransformer:
    """A fresh transformer for `data`'s vocabulary and id space, GPT-2 weights loaded when configured."""
    torch.manual_seed(seed)
    b = data.builder
    model = GraphTransformer(b.tok.size, b.n_users, b.n_items, cfg.model())
    if data.gpt2 is not None:
        missing, unexpected = model.load_state_dict(data.gpt2, strict=False)
        if unexpected:
            raise ValueError(f"GPT-2 weights not placed: {unexpected[:5]}")
    return model


def named_nodes(batch: Batch, model: GraphTransformer) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct users and items whose tokens a batch holds."""
    t = batch.tokens
    users = t[(t >= model.vocab) & (t < model.vocab + model.n_users)] - model.vocab
    items = t[t >= model.vocab + model.n_users] - model.vocab - model.n_users
    return users.unique(), items.unique()


def prompt_loss(model: GraphTransformer, batch: Batch, cfg: GatConfig) -> torch.Tensor:
    """Next-token loss of a content (words) or collaborative (items only) batch, plus mutual
    regularisation of the nodes it names."""
    hidden = model(batch.tokens, batch.lengths, batch.rel, content=batch.content)
    at = batch.targets != IGNORE
    h = hidden[at]
    logits = model.word_logits(h) if batch.content else model.item_logits(h)
    loss = F.cross_entropy(logits, batch.targets[at])
    if cfg.mutual_weight > 0:
        loss = loss + cfg.mutual_weight * model.mutual_gap(*named_nodes(batch, model))
    return loss


def multinomial_loss(
    model: GraphTransformer, batch: Batch, targets: torch.Tensor, cfg: GatConfig
) -> torch.Tensor:
    """Mult-VAE's likelihood: -sum over a user's target items of log softmax over all items, mean over
    users; plus mutual regularisation."""
    hidden = model(batch.tokens, batch.lengths, batch.rel, content=False)
    last = hidden[torch.arange(len(hidden), device=hidden.device), batch.lengths - 1]
    loss = -(F.log_softmax(model.item_logits(last), dim=-1) * targets).sum(-1).mean()
    if cfg.mutual_weight > 0:
        loss = loss + cfg.mutual_weight * model.mutual_gap(*named_nodes(batch, model))
    return loss


@dataclass
class StageResult:
    """What a stage leaves: the selected epoch and its validation metrics (finetune), per-epoch log."""

    best_epoch: int = 0
    best_valid: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    stopped_by: str = "epochs"


def collaborative_prompts(data: GatData, rng: np.random.Generator) -> list[Prompt]:
    """One collaborative prompt per user with a training item, a fresh random subset each epoch."""
    b = data.builder
    prompts = []
    for u in range(b.n_users):
        if len(data.history(u)):
            items = training_subset(data.history(u), b.collab_room, rng)
            prompts.append(b.collaborative(u, items, data.relations(u, items)))
    return prompts


def pretrain(
    model: GraphTransformer, data: GatData, cfg: GatConfig, seed: int, ckpt: Path, key: str
) -> StageResult:
    """Crowd pre-training for `cfg.pretrain_epochs` epochs, resuming from `ckpt` when it holds `key`."""
    device = pick_device()
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    result, start = StageResult(), 0
    state = _load_checkpoint(ckpt, key)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        result, start = state["result"], state["epoch"] + 1
    zero = cfg.zero_channels()
    for epoch in range(start, cfg.pretrain_epochs):
        tic = time.perf_counter()
        rng = np.random.default_rng([seed, epoch, 1])
        torch.manual_seed(seed * 100003 + epoch)
        batches = _batches(data.content_prompts, cfg.batch_size, rng) + _batches(
            collaborative_prompts(data, rng), cfg.batch_size, rng
        )
        order = rng.permutation(len(batches))
        model.train()
        total = 0.0
        for k in order:
            loss = prompt_loss(model, collate(batches[k], zero).to(device), cfg)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        seconds = time.perf_counter() - tic
        result.history.append({"epoch": epoch, "loss": total / max(len(batches), 1), "seconds": seconds})
        result.seconds += seconds
        result.best_epoch = epoch
        log.info(
            "pretrain seed %d epoch %d loss %.4f (%.1fs)", seed, epoch, total / max(len(batches), 1), seconds
        )
        atomic_torch_save(
            {
                "key": key,
                "epoch": epoch,
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "result": result,
            },
            ckpt,
        )
    return result


def personal_batch(
    data: GatData,
    users: Sequence[int],
    rng: np.random.Generator | None,
    zero: Sequence[int],
    mask_ratio: float = 0.0,
) -> tuple[Batch, torch.Tensor]:
    """Personal prompts of `users` and their multinomial targets. With `rng` (training) `mask_ratio` of
    each history is hidden (at least one item) and every training item not in the prompt is a target;
    without it, the fixed evaluation history and no targets."""
    b = data.builder
    prompts, rows, cols = [], [], []
    for k, u in enumerate(users):
        if rng is None:
            kept = data.eval_history[u]
        else:
            hist = rng.permutation(data.history(u))
            n_hide = max(1, int(round(mask_ratio * len(hist))))
            kept = np.sort(hist[n_hide:][: b.max_items])
            hidden = np.setdiff1d(hist, kept)
            rows.extend([k] * len(hidden))
            cols.extend(hidden.tolist())
        prompts.append(b.personal(u, kept, data.relations(u, kept)))
    targets = torch.zeros(len(users), b.n_items)
    targets[rows, cols] = 1.0
    return collate(prompts, zero), targets


def finetune(
    model: GraphTransformer,
    data: GatData,
    cfg: GatConfig,
    valid: Interactions,
    ks: Sequence[int],
    metric: str,
    seed: int,
    ckpt: Path,
    key: str,
) -> StageResult:
    """Fine-tune on personal prompts; after each epoch score validation, keep the best state (loaded
    into `model` at the end); stop after `cfg.patience` epochs without improvement."""
    device = pick_device()
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    result, start, best_state, bad = StageResult(), 0, None, 0
    state = _load_checkpoint(ckpt, key)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        result, start, best_state, bad = state["result"], state["epoch"] + 1, state["best"], state["bad"]
    users = np.flatnonzero(np.diff(data.train.indptr) > 0)
    zero = cfg.zero_channels()
    for epoch in range(start, cfg.finetune_epochs):
        if bad >= cfg.patience:
            break
        tic = time.perf_counter()
        rng = np.random.default_rng([seed, epoch, 2])
        torch.manual_seed(seed * 100003 + epoch + 7)
        model.train()
        total, order = 0.0, rng.permutation(users)
        for s in range(0, len(order), cfg.batch_size):
            batch, targets = personal_batch(
                data, order[s : s + cfg.batch_size].tolist(), rng, zero, cfg.mask_ratio
            )
            loss = multinomial_loss(model, batch.to(device), targets.to(device), cfg)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * min(cfg.batch_size, len(order) - s)
        scores = evaluate_prompts(model, data, valid, [sp.csr_matrix(data.train)], ks, cfg)
        seconds = time.perf_counter() - tic
        result.seconds += seconds
        result.history.append(
            {"epoch": epoch, "loss": total / max(len(order), 1), "valid": scores, "seconds": seconds}
        )
        log.info(
            "finetune seed %d epoch %d valid %s %.4f (%.1fs)", seed, epoch, metric, scores[metric], seconds
        )
        if best_state is None or scores[metric] > result.best_valid[metric]:
            result.best_epoch, result.best_valid, bad = epoch, scores, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
        result.stopped_by = "patience" if bad >= cfg.patience else "epochs"
        atomic_torch_save(
            {"key": key, "epoch": epoch, "model": model.state_dict(), "opt": opt.state_dict(),
             "result": result, "best": best_state, "bad": bad},
            ckpt,
        )  # fmt: skip
    if best_state is not None:
        model.load_state_dict(best_state)
    return result


def prompt_scorer(
    model: GraphTransformer, data: GatData, cfg: GatConfig
) -> Callable[[torch.Tensor], torch.Tensor]:
    """score_fn(users) -> [len(users), n_items]: the last position of each user's evaluation prompt."""
    device = next(model.parameters()).device
    zero = cfg.zero_channels()

    def score(users: torch.Tensor) -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            out = []
            for s in range(0, len(users), cfg.eval_batch_size):
                batch, _ = personal_batch(data, users[s : s + cfg.eval_batch_size].tolist(), None, zero)
                batch = batch.to(device)
                hidden = model(batch.tokens, batch.lengths, batch.rel)
                last = hidden[torch.arange(len(hidden), device=device), batch.lengths - 1]
                out.append(model.item_logits(last).float().cpu())
            return torch.cat(out)

    return score


def evaluate_prompts(
    model: GraphTransformer,
    data: GatData,
    truth: Interactions,
    exclude: Sequence[sp.csr_matrix],
    ks: Sequence[int],
    cfg: GatConfig,
) -> dict[str, float]:
    """Mean all-ranking metrics over `truth`'s users, `exclude` items masked (llmrec's metrics)."""
    parts = [truth.with_matrix(sp.csr_matrix(m)) for m in exclude]
    _, values = evaluate_users(prompt_scorer(model, data, cfg), truth, parts, ks, cfg.eval_batch_size)
    return {name: float(v.mean(dtype=np.float64)) for name, v in values.items()}


def _batches(prompts: list[Prompt], size: int, rng: np.random.Generator) -> list[list[Prompt]]:
    """`prompts` shuffled into batches of `size`, content and collaborative kept apart by the caller."""
    order = rng.permutation(len(prompts))
    return [[prompts[i] for i in order[s : s + size]] for s in range(0, len(order), size)]


def _load_checkpoint(path: Path, key: str) -> dict[str, Any] | None:
    """A stage checkpoint written under the same fingerprint, or None."""
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    return state if isinstance(state, dict) and state.get("key") == key else None


__all__ = [
    "StageResult",
    "evaluate_prompts",
    "finetune",
    "new_model",
    "pick_device",
    "pretrain",
    "prompt_scorer",
]
