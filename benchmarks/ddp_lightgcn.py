"""LightGCN trained by one process and by two under torchrun (gloo, CPU): time per epoch and test
accuracy over the same seeds (ML-100K by default; any dataset with `--dataset`). The two-process run is
the one-process computation split in two (each rank half of every batch), so accuracy should agree
within float noise; the speed-up on a 2-core machine is whatever is left after the replicated graph
propagation.

Usage: python benchmarks/ddp_lightgcn.py [--seeds 3] [--epochs 40] [--out runs/ddp] [--json OUT]
       python benchmarks/ddp_lightgcn.py --dataset ml-1m-lightgcnpp --seeds 1 --epochs 20 \
           --set train.batch_size=16384 --set train.lr=0.02 --set train.lr_schedule='"cosine"'
Runs:  python -m llmrec train --config examples/ml100k.toml --model lightgcn ...            (1 process)
       torchrun --standalone --nproc_per_node 2 -m llmrec.launch train ... (the same)      (2 processes)
       (with --dataset: `train --dataset NAME` and the library's defaults instead of the config)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def train(world: int, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run `llmrec train` in `world` processes; wall time and what the run folder records."""
    source = ["--dataset", args.dataset] if args.dataset else ["--config", "examples/ml100k.toml"]
    common = [
        "train",
        *source,
        "--model",
        "lightgcn",
        "--seeds",
        str(args.seeds),
        "--epochs",
        str(args.epochs),
        "--set",
        "train.threads=1",
        *[x for kv in args.set for x in ("--set", kv)],
        "--no-progress",
        "--out",
        str(out),
    ]
    if world == 1:
        cmd = [sys.executable, "-m", "llmrec", *common]
    else:
        torchrun = str(Path(sys.executable).with_name("torchrun"))
        cmd = [torchrun, "--standalone", f"--nproc_per_node={world}", "-m", "llmrec.launch", *common]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    seeds = [json.loads(p.read_text())["run"] for p in sorted(out.glob("seed*[0-9].json"))]
    epochs = sum(len(s.get("history", [])) or s["best_epoch"] for s in seeds)
    return {
        "processes": world,
        "wall_s": round(wall, 1),
        "metrics": metrics,
        "seed_records": seeds,
        "epochs_note": "see seed_records for per-seed train_seconds",
        "epochs_counted": epochs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("runs/ddp"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--dataset", help="train this dataset with the library defaults, not ml100k.toml")
    parser.add_argument("--set", action="append", default=[], help="a config override for both runs")
    args = parser.parse_args()
    results = [train(w, args.out / f"world{w}", args) for w in (1, 2)]
    summary = {
        "runs": results,
        "load_average_end": os.getloadavg(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
