"""Time and memory of the graph-aware transformer's relation encoding on Gowalla's training graph.

Usage: python benchmarks/graph_relations_gowalla.py RESULT.json  (with LLMREC_DATA_DIR set)

Workload 1 encodes the personal prompt of every Gowalla user (the user and up to 56 of its training
items: the ML-100K small config's prompt) with the shortest-path cap at 2 hops; workload 2 encodes
10,000 prompts of one random user and 16 random items with the cap at 3 hops, so most user-item
pairs are not adjacent and take the 3-hop sparse product. Only train.txt is read: test edges are
never in the graph. The reference's dense relation matrix over the 70,839 nodes would hold 5.0e9
float32 entries (20 GB) and Floyd-Warshall would take n^3 = 3.6e14 steps.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from llmrec.data.loaders.lightgcn import read_adjacency
from llmrec.graph_relations import PromptNodes, RelationEncoder

MAX_ITEMS = 56  # history items of a personal prompt in the small config (context 64)


def train_matrix(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Gowalla's training (user, item) pairs from train.txt only."""
    return read_adjacency(folder / "train.txt")


def personal_prompts(train: sp.csr_matrix, rng: np.random.Generator) -> Iterator[PromptNodes]:
    """Every user with a random MAX_ITEMS of its training items (the truncation rule)."""
    for u in range(train.shape[0]):
        history = train.indices[train.indptr[u] : train.indptr[u + 1]]
        yield PromptNodes(np.array([u]), np.sort(rng.permutation(history)[:MAX_ITEMS]))


def random_prompts(shape: tuple[int, int], count: int, rng: np.random.Generator) -> Iterator[PromptNodes]:
    """`count` prompts of one random user and 16 random items."""
    for _ in range(count):
        yield PromptNodes(rng.integers(0, shape[0], 1), rng.choice(shape[1], 16, replace=False))


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(folder: Path) -> dict[str, object]:
    """Both workloads' wall time, CPU time and peak memory."""
    wall, cpu = time.perf_counter(), time.process_time()
    users, items = train_matrix(folder)
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    train = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=(n_users, n_items))
    load = {"seconds": round(time.perf_counter() - wall, 1), "edges": int(train.nnz)}
    rng = np.random.default_rng(0)
    result: dict[str, object] = {"graph": {"users": n_users, "items": n_items, **load}}
    for name, hops in (("personal_prompts_2hops", 2), ("random_prompts_3hops", 3)):
        wall, cpu = time.perf_counter(), time.process_time()
        encoder = RelationEncoder(train, hops)
        built = time.perf_counter() - wall
        entries = nonzero = 0
        count = train.shape[0] if hops == 2 else 10_000
        prompts = personal_prompts(train, rng) if hops == 2 else random_prompts(train.shape, count, rng)
        for rel in encoder.encode_many(prompts):
            entries += rel.size
            nonzero += int(np.count_nonzero(rel))
        result[name] = {
            "prompts": count,
            "max_hops": hops,
            "encoder_build_seconds": round(built, 2),
            "wall_seconds": round(time.perf_counter() - wall, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1),
            "relation_entries": entries,
            "nonzero_share": round(nonzero / max(entries, 1), 4),
        }
        print(name, result[name], flush=True)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    return result


def main(argv: list[str]) -> int:
    """Run the benchmark on LLMREC_DATA_DIR/gowalla and write RESULT.json."""
    if len(argv) != 1:
        raise SystemExit(__doc__)
    folder = Path(os.environ.get("LLMREC_DATA_DIR", "data")) / "gowalla"
    result = run(folder)
    Path(argv[0]).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
