"""One rank of the DDP tests (tests/test_distributed.py): fit LightGCN on the block toy data and save
the weights, history and a validation of a fixed model; under torchrun it joins the process group.

    python tests/ddp_worker.py OUT [--die-at EPOCH]               # one process
    torchrun --standalone --nproc_per_node 2 tests/ddp_worker.py OUT [--die-at EPOCH]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmrec import distributed
from llmrec.config import EvalConfig, TrainConfig
from llmrec.graph import build_graph
from llmrec.models import build_model
from llmrec.train import fit, validate
from tests.conftest import block_interactions


class FileCheckpoint:
    """A checkpoint in one file; with `die_at`, the process exits right after saving that epoch."""

    interval = 0.0

    def __init__(self, path: Path, die_at: int) -> None:
        self.path, self.die_at = path, die_at

    def load(self) -> dict[str, Any] | None:
        return torch.load(self.path, weights_only=False) if self.path.is_file() else None

    def save(self, state: dict[str, Any]) -> None:
        torch.save(state, self.path)
        if state["selection"]["epoch"] == self.die_at:
            os._exit(3)  # a kill: no clean-up, the other rank loses its peer


def main() -> None:
    out = Path(sys.argv[1])
    die_at = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--die-at" else 0
    group = distributed.activate() if "WORLD_SIZE" in os.environ else None
    torch.set_num_threads(1)
    run(out, die_at, 0 if group is None else group.rank)
    if group is not None:
        distributed.deactivate()


def run(out: Path, die_at: int, rank: int) -> None:
    """Validate a fixed model, fit another (checkpointing beside `out`), save both results."""
    rng = np.random.default_rng(0)
    train, valid = block_interactions(rng, 300, noise=0.5), block_interactions(rng, 90, noise=0.0)
    graph = build_graph(train)
    cfg = TrainConfig(epochs=6, batch_size=50, lr=0.01, eval_every=2, patience=100, metric="ndcg@10",
                      negatives=4)  # fmt: skip
    eval_cfg = EvalConfig(ks=(5, 10), batch_size=7)
    torch.manual_seed(3)
    fixed = build_model("lightgcn", 30, 40, 8, 2, 1e-4)
    fixed_metrics = validate(fixed, graph, valid, train, eval_cfg)
    torch.manual_seed(5)
    model = build_model("lightgcn", 30, 40, 8, 2, 1e-4)
    checkpoint = FileCheckpoint(out.parent / "checkpoint.pt", die_at)
    result = fit(
        model, train, valid, graph, cfg, eval_cfg, seed=3, show_progress=False, checkpoint=checkpoint
    )
    torch.save({"state": model.state_dict(), "history": result.history, "best_epoch": result.best_epoch,
                "fixed_metrics": fixed_metrics}, f"{out}.rank{rank}")  # fmt: skip


if __name__ == "__main__":
    main()
