"""Full-ranking evaluation throughput on Gowalla: every user, every item, with random embeddings.

Times `llmrec.evaluate.evaluate` (score all 40,981 items, mask train items, top-K, hit matrix and
metrics) for all 29,858 Gowalla test users at a few evaluation batch sizes, and reports users per
second. Random 64-d embeddings stand in for a trained model: the cost of ranking does not depend on
the values, and leaving training out isolates evaluation (the issue's target: >= 20,000 users/s).

    python benchmarks/eval_throughput.py                          # -> benchmarks/results/eval_throughput.json
    python benchmarks/eval_throughput.py --threads 1 --batch-sizes 1024 4096 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import torch

from llmrec.data.dataset import TEST, TRAIN
from llmrec.data.loaders.lightgcn import load_gowalla
from llmrec.evaluate import embedding_scorer, evaluate

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    """Measure users/s at each batch size; print a table and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("LLMREC_DATA_DIR", ROOT.parent / "shared/data")),
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per batch size (best is kept)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/eval_throughput.json")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_gowalla(args.data_dir / "gowalla")
    train, test = ds.interactions(ds.folds == TRAIN), ds.interactions(ds.folds == TEST)
    gen = torch.Generator().manual_seed(0)
    user_emb = torch.randn(train.n_users, 64, generator=gen)
    item_emb = torch.randn(train.n_items, 64, generator=gen)
    n_users = len(test.active_users())
    rows = []
    for batch_size in args.batch_sizes:
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            evaluate(embedding_scorer(user_emb, item_emb), test, [train], args.ks, batch_size)
            seconds.append(time.perf_counter() - start)
        best = min(seconds)
        rows.append(
            {
                "batch_size": batch_size,
                "seconds": [round(s, 3) for s in seconds],
                "users_per_s": round(n_users / best),
            }
        )
        print(
            f"batch {batch_size:>6}: best {best:6.2f} s for {n_users} users = {n_users / best:8.0f} users/s"
        )
    record = {
        "dataset": "gowalla",
        "users": n_users,
        "items": train.n_items,
        "ks": args.ks,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "load_average": [round(x, 2) for x in os.getloadavg()],  # the machine may be shared: note its load
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
