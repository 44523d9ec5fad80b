"""Full-ranking evaluation throughput on Gowalla: every user, every item, exact top-K.

Times `llmrec.evaluate.evaluate` (rank all 40,981 items with train items masked, top-K, hits,
metrics) for all 29,858 Gowalla test users, with the bf16 screen (`eval.screen = "on"`) and without
it (`"off"`, fp32 product and torch.topk), at a few evaluation batch sizes, and reports users per
second (the issue's target: >= 20,000 users/s). Both routes must give the same metrics; the script
checks that and fails otherwise.

The screen's cost depends on the scores (how many candidates each user has), so two sets of
embeddings are timed: random 64-d ones (`random`), and, with `--run RUN_DIR`, the tested model of a
trained run (e.g. runs/gowalla-simgcl-refit from examples/gowalla_simgcl.toml).

    python benchmarks/eval_throughput.py                          # -> benchmarks/results/eval_throughput.json
    python benchmarks/eval_throughput.py --run runs/gowalla-simgcl-refit --threads 2
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

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.data.dataset import TEST, TRAIN
from llmrec.data.loaders.lightgcn import load_gowalla
from llmrec.evaluate import embedding_scorer, evaluate
from llmrec.topk import bf16_is_fast

ROOT = Path(__file__).resolve().parents[1]


def trained_embeddings(run_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """User and item embeddings of the first seed's tested model (the refit twin where there is one)."""
    from llmrec.experiment import load_trained

    run = load_trained(run_dir)
    model = run.test_model()  # in evaluation mode; with train.refit, the one retrained on train + valid
    with torch.no_grad():
        user_emb, item_emb = model.embed(run.test_graph)  # type: ignore[operator]
    return user_emb.contiguous(), item_emb.contiguous()


def main(argv: list[str]) -> int:
    """Measure users/s per embedding set, route and batch size; print a table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("LLMREC_DATA_DIR", ROOT.parent / "shared/data")),
    )
    parser.add_argument("--run", type=Path, help="also time a trained Gowalla run's embeddings")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per setting (best is kept)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/eval_throughput.json")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_gowalla(args.data_dir / "gowalla")
    train, test = ds.interactions(ds.folds == TRAIN), ds.interactions(ds.folds == TEST)
    gen = torch.Generator().manual_seed(0)
    random = torch.randn(train.n_users, 64, generator=gen), torch.randn(train.n_items, 64, generator=gen)
    sets = {"random": random}
    if args.run:
        sets[f"trained ({args.run.name})"] = trained_embeddings(args.run)
    n_users = len(test.active_users())
    first = (np.arange(train.n_users) < 500).astype(np.float32)  # a few users, to warm up
    few = test.with_matrix(sp.csr_matrix(sp.diags(first) @ test.user_items))
    for screen in (True, False):  # load (or compile) the numba kernels before timing
        evaluate(embedding_scorer(*random, screen), few, [train], args.ks, args.batch_sizes[0])
    rows = []
    for name, (user_emb, item_emb) in sets.items():
        metrics = {}
        for screen in (True, False):
            route = "bf16 screen + fp32 rescoring" if screen else "fp32 product + torch.topk"
            for batch_size in args.batch_sizes:
                seconds = []
                for _ in range(args.repeats):
                    scorer = embedding_scorer(user_emb, item_emb, screen)  # preparation is timed too
                    start = time.perf_counter()
                    metrics[screen] = evaluate(scorer, test, [train], args.ks, batch_size)
                    seconds.append(time.perf_counter() - start)
                best = min(seconds)
                rows.append(
                    {
                        "embeddings": name,
                        "route": route,
                        "batch_size": batch_size,
                        "seconds": [round(s, 3) for s in seconds],
                        "users_per_s": round(n_users / best),
                        "recall@20": round(metrics[screen]["recall@20"], 6),
                    }
                )
                print(f"{name:>28} | {route:>28} | batch {batch_size:>5}: {n_users / best:7.0f} users/s")
        if any(abs(metrics[True][m] - metrics[False][m]) > 1e-9 for m in metrics[True]):
            print(f"FAIL: the routes disagree on {name}: {metrics[True]} vs {metrics[False]}")
            return 1
    record = {
        "dataset": "gowalla",
        "users": n_users,
        "items": train.n_items,
        "ks": args.ks,
        "threads": torch.get_num_threads(),
        "bf16_native": bf16_is_fast(),
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
