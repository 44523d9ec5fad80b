"""ANN serving index on a trained model's vectors: recall@K against exact top-K, latency, memory.

Loads a finished `llmrec train` run (its first seed's selected model), takes the propagated user and
item vectors, and for every user computes the exact top-K unseen items (training items excluded) as
the reference. Then for each index setting: build time, index memory, recall@K of the approximate
top-K against the exact one (averaged over users), latency per user in one batch of all users, and
single-user latency (p50/p99 over --single queries).

Usage: python benchmarks/ann_gowalla.py RUN_DIR [--checkpoint CKPT] [--k 20] [--single 1000] [--threads 1]
                                      [--json OUT]
Target (issue 28): recall@20 >= 0.99 of exact top-20 on Gowalla, at a stated latency and memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmrec.ann import IndexParams, ItemIndex
from llmrec.experiment import load_trained
from llmrec.graph import build_graph
from llmrec.models import build_model
from llmrec.rundir import load_run_config, load_split

# each index is built once; the searches vary only what is read at search time
SETTINGS = [
    (IndexParams(kind="exact"), [{}]),
    (IndexParams(kind="hnsw", hnsw_m=32, hnsw_metric="ip"), [{"ef_search": e} for e in (64, 256)]),
    (IndexParams(kind="hnsw", hnsw_m=32), [{"ef_search": e} for e in (512, 1024, 2048)]),
    (IndexParams(kind="ivf"), [{"nprobe": n} for n in (128, 256)]),
]


def vectors(run_dir: Path, checkpoint: Path | None) -> tuple[np.ndarray, np.ndarray, Any]:
    """User vectors, item vectors and training items (CSR) of the run's first seed; with `checkpoint`,
    of the weights in that training checkpoint of the (unfinished) run instead."""
    if checkpoint is None:
        run = load_trained(run_dir)
        model, graph, train = run.model(run.cfg.seed), run.graph, run.split.train
    else:
        cfg, split = load_run_config(run_dir), load_split(run_dir)
        train, graph = split.train, build_graph(split.train)
        model = build_model(
            cfg.model.name, train.n_users, train.n_items, cfg.model.dim, cfg.model.n_layers, 0.0
        )
        saved = torch.load(checkpoint, weights_only=False)["state"]
        model.load_state_dict(saved["trainer"]["model"])
        print(f"weights of {checkpoint} after epoch {saved['selection']['epoch']}", flush=True)
    with torch.no_grad():
        users, items = model.embed(graph)
    return users.numpy().astype(np.float32), items.numpy().astype(np.float32), train.user_items


def measure(index: ItemIndex, build_s: float, users: np.ndarray, seen: Any, truth: np.ndarray,
            k: int, single: int) -> dict[str, Any]:  # fmt: skip
    """Search every user in one batch, then `single` users one at a time."""
    params = index.params
    start = time.perf_counter()
    _, ids = index.search(users, k, seen)
    batch_s = time.perf_counter() - start
    hits = [len(np.intersect1d(a, b)) for a, b in zip(ids, truth, strict=True)]
    rng = np.random.default_rng(0)
    times = []
    for u in rng.choice(len(users), size=min(single, len(users)), replace=False):
        row = seen[u : u + 1]
        t = time.perf_counter()
        index.search(users[u : u + 1], k, row)
        times.append(time.perf_counter() - t)
    return {
        "kind": index.kind,
        "params": {f: getattr(params, f) for f in ("hnsw_m", "hnsw_metric", "ef_search", "nprobe")},
        "recall_at_k": round(float(np.mean(hits)) / k, 5),
        "users_below_0.9": int(np.sum(np.array(hits) < 0.9 * k)),
        "build_s": round(build_s, 2), "batch_ms_per_user": round(1000 * batch_s / len(users), 4),
        "single_p50_ms": round(1000 * float(np.median(times)), 3),
        "single_p99_ms": round(1000 * float(np.percentile(times, 99)), 3),
        "memory_mb": round(index.memory_bytes() / 2**20, 2),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--single", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="torch, numpy-BLAS and FAISS threads")
    parser.add_argument("--users", type=int, default=0, help="a seeded sample of this many users (0: all)")
    parser.add_argument("--checkpoint", type=Path, help="take the weights of this training checkpoint")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    users, items, seen = vectors(args.run_dir, args.checkpoint)
    if args.users:
        sample = np.sort(np.random.default_rng(1).choice(len(users), size=args.users, replace=False))
        users, seen = users[sample], seen[sample]
    exact = ItemIndex.build(items, IndexParams(kind="exact"))
    _, truth = exact.search(users, args.k, seen)
    rows = []
    for built, searches in SETTINGS:
        if built.kind != "exact":
            built = dataclasses.replace(built, threads=args.threads)
        start = time.perf_counter()
        index = ItemIndex.build(items, built)
        build_s = time.perf_counter() - start
        for search in searches:
            index.params = dataclasses.replace(built, **search)
            rows.append(measure(index, build_s, users, seen, truth, args.k, args.single))
            print(json.dumps(rows[-1]), flush=True)
    result = {
        "run_dir": str(args.run_dir), "checkpoint": str(args.checkpoint),
        "users": len(users), "sampled": bool(args.users), "items": len(items), "dim": items.shape[1],
        "k": args.k, "threads": args.threads, "settings": rows,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg(),
    }  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
