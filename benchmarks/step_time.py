"""Seconds per training step (sample, loss, backward, Adam) of the graph models on a LightGCN split.

A step of LightGCN, SGL or SimGCL costs about the same whatever the batch size: full-graph sparse
products dominate. This times steps of each model on the same batches, in one process, round-robin
(model A, B, C, A, B, C, ...) so that a machine shared with other jobs slows all of them alike, and
reports the median. `simgcl-unshared` is SimGCL with its three encodings propagated separately (the
code before the shared first product), kept here to measure what that sharing saves. A `+dns` suffix
(e.g. `lightgcn+dns`) trains on the hardest of `--negatives` uniform candidates per edge
(`train.negatives`); drawing those candidates is timed as part of its step.

    python benchmarks/step_time.py --dataset gowalla --batch 16384 --threads 1
    python benchmarks/step_time.py --dataset yelp2018 --models lightgcn simgcl --batch 32768
    python benchmarks/step_time.py --dataset yelp2018 --models lightgcn lightgcn+dns --batch 32768

Writes benchmarks/results/step_time-<dataset>.json (median, quartiles and all samples per model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import cast

import numpy as np
import torch

from llmrec.data.dataset import TRAIN
from llmrec.data.loaders.lightgcn import load_gowalla, load_yelp2018
from llmrec.data.sampler import BPRSampler
from llmrec.graph import build_graph
from llmrec.models import build_model, capabilities_of
from llmrec.models.base import EpochViews
from llmrec.models.ops import symmetric_spmm
from llmrec.models.simgcl import SimGCL

LOADERS = {"gowalla": load_gowalla, "yelp2018": load_yelp2018}


class UnsharedSimGCL(SimGCL):
    """SimGCL with each encoding propagated on its own: 18 sparse products a step, not 14."""

    def encodings(self, adj: torch.Tensor, ego: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The same three encodings as SimGCL's, each from its own first product."""
        return tuple(self.encode(adj, symmetric_spmm(adj, ego), p) for p in (False, True, True))


def make_model(name: str, n_users: int, n_items: int) -> torch.nn.Module:
    """A model at llmrec's defaults (3 layers, 64 dimensions, published knobs)."""
    if name == "simgcl-unshared":
        return UnsharedSimGCL(n_users, n_items)
    return build_model(name.removesuffix("+dns"), n_users, n_items, 64, 3, 1e-4)


def main(argv: list[str]) -> int:
    """Time `--steps` steps of each model after one warm-up step; print and save the medians."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="gowalla")
    data_dir = os.environ.get("LLMREC_DATA_DIR", "../shared/data")
    parser.add_argument("--data-dir", type=Path, default=Path(data_dir))
    parser.add_argument("--models", nargs="+", default=["lightgcn", "sgl", "simgcl", "simgcl-unshared"])
    parser.add_argument("--batch", type=int, default=16384)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--negatives", type=int, default=16, help="candidates per edge of the +dns models")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = LOADERS[args.dataset](args.data_dir / args.dataset)
    train = ds.interactions(ds.folds == TRAIN)
    graph = build_graph(train)
    torch.manual_seed(0)
    models = {name: make_model(name, train.n_users, train.n_items) for name in args.models}
    optims = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}
    for model in models.values():
        if capabilities_of(model).epoch_views:  # SGL's edge-dropout views, drawn once an epoch (not timed)
            cast(EpochViews, model).start_epoch(graph, np.random.default_rng(0))
    sampler = BPRSampler(train, seed=0)
    batches = sampler.epoch(args.batch)
    samples: dict[str, list[float]] = {name: [] for name in models}
    for step in range(args.steps + 1):  # step 0 warms up
        batch = tuple(torch.from_numpy(a) for a in next(batches))
        for name, model in models.items():
            start = time.perf_counter()
            own = batch
            if name.endswith("+dns"):
                users = batch[0].numpy()
                candidates = sampler.negatives(np.repeat(users, args.negatives)).reshape(len(users), -1)
                own = (batch[0], batch[1], torch.from_numpy(candidates))
            optims[name].zero_grad(set_to_none=True)
            model.loss(own, graph).backward()
            optims[name].step()
            if step:
                samples[name].append(time.perf_counter() - start)
    result = {
        "command": "python benchmarks/step_time.py " + " ".join(argv),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average_1min": os.getloadavg()[0],
        "threads": torch.get_num_threads(),
        "dataset": args.dataset,
        "batch": args.batch,
        "negatives_of_dns_models": args.negatives,
        "edges": int(train.user_items.nnz),
        "models": {},
    }
    for name, times in samples.items():
        q1, median, q3 = statistics.quantiles(times, n=4)
        result["models"][name] = {"median_s": median, "q1_s": q1, "q3_s": q3, "samples_s": times}
        print(f"{name:<16} {median:.3f} s/step (quartiles {q1:.3f}-{q3:.3f})")
    out = args.out or Path(__file__).parent / "results" / f"step_time-{args.dataset}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
