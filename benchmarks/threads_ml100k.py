"""Seconds per training epoch on ML-100K at a given torch thread count (BPR-MF and LightGCN).

Usage: python benchmarks/threads_ml100k.py THREADS  (with LLMREC_DATA_DIR set)
Run it once with 1 and once with 2 threads, on an idle machine and while another process is busy,
to see why training picks 1 thread for small data (BENCHMARKS.md).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from llmrec.config import EvalConfig, RunConfig
from llmrec.data.sampler import BPRSampler
from llmrec.experiment import prepare
from llmrec.graph import build_graph
from llmrec.models import BPRMF, LightGCN
from llmrec.train import _train_epoch, validate

EPOCHS = 5


def main(threads: int) -> None:
    """Print wall and CPU seconds per epoch and one validation pass for both models."""
    torch.set_num_threads(threads)
    prepared = prepare(RunConfig(), [Path(os.environ.get("LLMREC_DATA_DIR", "data"))])
    train = prepared.split.train
    graph = build_graph(train)
    for model in (BPRMF(train.n_users, train.n_items), LightGCN(train.n_users, train.n_items)):
        sampler = BPRSampler(train, 0)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(EPOCHS):
            _train_epoch(model, sampler, optimizer, graph, 2048)
        wall, cpu = (time.perf_counter() - wall) / EPOCHS, (time.process_time() - cpu) / EPOCHS
        start = time.perf_counter()
        validate(model, graph, prepared.split.valid, train, EvalConfig())
        print(
            f"{type(model).__name__:<9} threads {threads}: epoch {wall:.3f} s wall, {cpu:.3f} s CPU; "
            f"validation {time.perf_counter() - start:.3f} s"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
