"""ANN serving index on a trained model's vectors: recall@K against exact top-K, latency, memory.

Loads a finished `llmrec train` run (its first seed's selected model), takes the propagated user and
item vectors, and for every user computes the exact top-K unseen items (training items excluded) as
the reference. Then for each index setting: build time, index memory, recall@K of the approximate
top-K against the exact one (averaged over users), latency per user in one batch of all users, and
single-user latency (p50/p99 over --single queries).

Usage: python benchmarks/ann_gowalla.py RUN_DIR [--k 20] [--single 1000] [--threads 1] [--json OUT]
Target (issue 28): recall@20 >= 0.99 of exact top-20 on Gowalla, at a stated latency and memory.
"""

from __future__ import annotations

import argparse
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

SETTINGS = [
    IndexParams(kind="exact"),
    IndexParams(kind="hnsw", hnsw_m=32, ef_search=64),
    IndexParams(kind="hnsw", hnsw_m=32, ef_search=128),
    IndexParams(kind="hnsw", hnsw_m=32, ef_search=256),
    IndexParams(kind="ivf", nprobe=16),
    IndexParams(kind="ivf", nprobe=64),
]


def vectors(run_dir: Path) -> tuple[np.ndarray, np.ndarray, Any]:
    """User vectors, item vectors and training items (CSR) of the run's first seed."""
    run = load_trained(run_dir)
    model = run.model(run.cfg.seed)
    with torch.no_grad():
        users, items = model.embed(run.graph)
    return users.numpy().astype(np.float32), items.numpy().astype(np.float32), run.split.train.user_items


def measure(params: IndexParams, users: np.ndarray, items: np.ndarray, seen: Any, truth: np.ndarray,
            k: int, single: int) -> dict[str, Any]:  # fmt: skip
    """Build, search every user in one batch, then `single` users one at a time."""
    start = time.perf_counter()
    index = ItemIndex.build(items, params)
    build_s = time.perf_counter() - start
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
        "kind": index.kind, "params": {f: getattr(params, f) for f in ("hnsw_m", "ef_search", "nprobe")},
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
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    users, items, seen = vectors(args.run_dir)
    exact = ItemIndex.build(items, IndexParams(kind="exact"))
    _, truth = exact.search(users, args.k, seen)
    rows = []
    for params in SETTINGS:
        if params.kind != "exact":
            params = IndexParams(**{**params.__dict__, "threads": args.threads})
        rows.append(measure(params, users, items, seen, truth, args.k, args.single))
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "run_dir": str(args.run_dir), "users": len(users), "items": len(items), "dim": items.shape[1],
        "k": args.k, "threads": args.threads, "settings": rows,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg(),
    }  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
