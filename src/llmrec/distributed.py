"""Data-parallel training with torch.distributed: one process per rank, launched by `torchrun`.

`llmrec.launch` initialises the process group from torchrun's environment (gloo on CPU, NCCL on
GPU) and calls `activate`; the training loop then asks `active()` and, when a group is active:

- every rank runs the same seeded sampler, so all draw the same global batch, and each takes its
  own contiguous share of it (`shard`): the global batch stays `train.batch_size`, the steps per epoch
  stay those of one process, and with the gradients averaged by DistributedDataParallel each step
  is the one-process step up to the order of floating-point sums;
- validation is sharded by users (user u goes to rank u mod world) and the per-user metrics are
  summed over ranks (`sum_over_ranks`), which gives exactly the one-process means;
- decisions that could differ between ranks (stopping on time) are taken by rank 0 and broadcast;
- only rank 0 writes files (`llmrec.atomic` is switched off on the others by `llmrec.launch`),
  so checkpoints, models and records are written once and resumed by every rank from the same file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from torch import nn

from llmrec.data.interactions import Interactions
from llmrec.evaluate import METRICS, evaluate_users


@dataclass(frozen=True)
class Group:
    """This process's place in the process group."""

    rank: int
    world: int
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


_group: Group | None = None


def active() -> Group | None:
    """The process group training runs in, or None for a single process."""
    return _group


def activate(backend: str | None = None, timeout_s: float = 1800.0) -> Group:
    """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR...)."""
    global _group
    missing = [v for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise RuntimeError(f"not started by torchrun: {', '.join(missing)} unset (see docs/scale.md)")
    chosen = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if not dist.is_initialized():
        from datetime import timedelta

        dist.init_process_group(chosen, timeout=timedelta(seconds=timeout_s))
    _group = Group(dist.get_rank(), dist.get_world_size(), chosen)
    return _group


def deactivate() -> None:
    """Leave the process group (end of the run)."""
    global _group
    if dist.is_initialized():
        dist.destroy_process_group()
    _group = None


def shard(arrays: Sequence[np.ndarray], group: Group) -> tuple[np.ndarray, ...]:
    """This rank's contiguous share of a batch (sizes differ by at most one)."""
    n = len(arrays[0])
    lo, hi = n * group.rank // group.world, n * (group.rank + 1) // group.world
    return tuple(a[lo:hi] for a in arrays)


class _LossOf(nn.Module):
    """`model.loss(batch, graph)` as a forward, so DistributedDataParallel can hook it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: tuple[torch.Tensor, ...], graph: Any) -> torch.Tensor:
        return self.model.loss(batch, graph)  # type: ignore[operator, no-any-return]


def loss_function(model: nn.Module) -> Callable[[tuple[torch.Tensor, ...], Any], torch.Tensor]:
    """The model's loss, under DistributedDataParallel when a group is active (its gradients are then
    averaged over the ranks in backward, and rank 0's weights are broadcast to all at the start)."""
    if _group is None or _group.world == 1:
        return model.loss  # type: ignore[return-value]
    wrapped = nn.parallel.DistributedDataParallel(_LossOf(model), find_unused_parameters=_sparse_grads(model))
    return wrapped  # type: ignore[no-any-return]


def _sparse_grads(model: nn.Module) -> bool:
    """Whether some parameters may go without a gradient in a step (DDP must then look for them)."""
    return bool(getattr(model, "ddp_find_unused", False))


def mean_over_ranks(value: float) -> float:
    """The mean of `value` over the ranks (e.g. an epoch's loss)."""
    if _group is None or _group.world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / _group.world


def sum_over_ranks(values: np.ndarray) -> np.ndarray:
    """Element-wise sum of a float64 vector over the ranks."""
    if _group is None or _group.world == 1:
        return values
    t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64))
    dist.all_reduce(t)
    return t.numpy()


def from_main(flag: bool) -> bool:
    """Rank 0's value of `flag`, on every rank."""
    if _group is None or _group.world == 1:
        return flag
    t = torch.tensor([int(flag)])
    dist.broadcast(t, 0)
    return bool(t.item())


def sharded_evaluate(
    scorer: Callable[[torch.Tensor], torch.Tensor],
    valid: Interactions,
    train: Interactions,
    ks: Sequence[int],
    batch_size: int,
    group: Group,
) -> dict[str, float]:
    """Mean metrics over the users with held-out items, each rank scoring users u with u mod world ==
    rank, the per-user sums and counts added over the ranks: the one-process means."""
    names = [f"{m}@{k}" for m in METRICS for k in ks]
    mine = np.arange(valid.n_users) % group.world == group.rank
    part = Interactions(
        (sp.diags(mine.astype(np.float64)) @ valid.user_items).tocsr(), valid.user_ids, valid.item_ids
    )
    part.user_items.eliminate_zeros()
    sums = np.zeros(len(names) + 1)
    if len(part.active_users()):
        users, values = evaluate_users(scorer, part, [train], ks, batch_size)
        sums[:-1] = [values[n].sum(dtype=np.float64) for n in names]
        sums[-1] = len(users)
    total = sum_over_ranks(sums)
    if total[-1] == 0:
        raise ValueError("no user has a held-out item to evaluate")
    return {n: float(v / total[-1]) for n, v in zip(names, total[:-1], strict=True)}
