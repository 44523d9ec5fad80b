"""Baselines (LightGCN, SGL, SimGCL, GF-CF, BPR-MF) on the LightGCN benchmark splits: accuracy, speed, memory.

Each (dataset, model) is `llmrec train` in a child process, timed on its own (wall time and peak RSS
from os.wait4), then a second child reloads the run directory and times full-ranking evaluation of
every test user (train and valid items masked), so throughput is measured on the selected model and
apart from training. Hyperparameters are llmrec's defaults (the published ones for each model) unless
overridden with --config / --set, exactly as for `llmrec train`.

    python benchmarks/baselines.py --datasets gowalla --models gf-cf
    python benchmarks/baselines.py --datasets yelp2018 --models simgcl --set train.batch_size=8192 \\
        --set train.lr=0.004 --target 0.06 --tag b8192
    python benchmarks/baselines.py --datasets ml-1m-lightgcnpp --models sgl simgcl --smoke   # plumbing only

Writes benchmarks/results/baselines-<dataset>-<model>[-<tag>].json with: the command, machine and load,
wall time and peak RSS of the training child, epochs run, training-only seconds per epoch (sampling,
SGL's views and steps; validation excluded), seconds to the first validation recall@20 >= --target and
to the selected epoch, valid and test metrics, evaluation users/s, and the per-evaluation history.
Run directories go to benchmarks/work/baselines/. `--target` is a *validation* recall@20: test is
scored once, on the selected model, so it cannot time a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
LLMREC = ROOT / ".venv" / "bin" / "llmrec"
DATASETS = ("gowalla", "yelp2018", "ml-1m-lightgcnpp")
MODELS = ("lightgcn", "sgl", "simgcl", "gf-cf", "bpr-mf")
METRIC = "recall@20"
# --smoke: one epoch of a few large batches, enough to run every stage of the plumbing
SMOKE_SETS = ("train.epochs=1", "train.batch_size=32768", "train.eval_every=1")


def main(argv: list[str]) -> int:
    """Run every requested (dataset, model) and write one result file each."""
    args = parse_args(argv)
    if args.throughput_worker:
        print(json.dumps(throughput(args.throughput_worker, args.eval_batch_size, args.threads)))
        return 0
    for dataset in args.datasets:
        for model in args.models:
            record = run_one(dataset, model, args)
            path = ROOT / "benchmarks" / "results" / f"baselines-{stem(dataset, model, args.tag)}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            print(summary_line(record) + f"\n  -> {path.relative_to(ROOT)}", flush=True)
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["gowalla"], choices=DATASETS)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--config", type=Path, help="TOML run config, as for `llmrec train --config`")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="llmrec config override")
    p.add_argument("--epochs", type=int, help="maximum training epochs")
    p.add_argument("--threads", type=int, default=0, help="torch / BLAS threads (0: their defaults)")
    p.add_argument("--target", type=float, help=f"validation {METRIC} whose first crossing is timed")
    p.add_argument("--eval-batch-size", type=int, default=4096, help="users per batch in the throughput run")
    p.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--tag", default="", help="suffix of the result and run-directory names")
    p.add_argument("--smoke", action="store_true", help="one epoch of 32768-edge batches, plumbing only")
    p.add_argument("--throughput-worker", type=Path, metavar="RUN_DIR", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_one(dataset: str, model: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train, test and time one model on one dataset; the result record."""
    run_dir = ROOT / "benchmarks" / "work" / "baselines" / stem(dataset, model, args.tag)
    sets = [*(SMOKE_SETS if args.smoke else ()), *args.set]
    if args.threads:
        sets.append(f"train.threads={args.threads}")
    cmd = [str(LLMREC), "train", "--dataset", dataset, "--model", model, "--out", str(run_dir)]
    cmd += ["--seeds", "1", "--no-progress", "--data-dir", str(args.data_dir)]
    cmd += ["--config", str(args.config)] if args.config else []
    cmd += ["--epochs", str(args.epochs)] if args.epochs else []
    for item in sets:
        cmd += ["--set", item]
    print(f"{dataset} / {model}", flush=True)
    train = run_child(cmd, run_dir.with_suffix(".train.log"), args.threads)
    worker = [str(PYTHON), __file__, "--throughput-worker", str(run_dir), "--threads", str(args.threads)]
    worker += ["--eval-batch-size", str(args.eval_batch_size)]
    evaluation = run_child(worker, run_dir.with_suffix(".eval.log"), args.threads)
    tail = run_dir.with_suffix(".eval.log").read_text(encoding="utf-8").strip().splitlines()[-1]
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    history = metrics["runs"][0]["history"]
    last = history[-1]
    return {
        "dataset": dataset,
        "model": model,
        "smoke": args.smoke,
        "command": train["command"],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],  # a shared machine slows every figure
        "threads": args.threads or "default",
        "wall_seconds": round(train["wall_seconds"], 1),
        "peak_rss_mb": round(train["peak_rss_mb"], 1),
        "epochs": last["epoch"],
        "stopped_by": metrics["runs"][0]["stopped_by"],
        "train_seconds_per_epoch": round(last["train_seconds"] / max(last["epoch"], 1), 2),
        "fit_seconds": round(metrics["runs"][0]["train_seconds"], 1),  # training plus validations
        "target": args.target,
        "seconds_to_target": seconds_to(history, args.target),
        "best_epoch": metrics["runs"][0]["best_epoch"],
        "seconds_to_best": next(
            h["seconds"] for h in history if h["epoch"] == metrics["runs"][0]["best_epoch"]
        ),
        "valid": metrics["valid"],
        "test": metrics["test"],
        "eval": {**json.loads(tail), "peak_rss_mb": round(evaluation["peak_rss_mb"], 1)},
        "history": [
            {k: h[k] for k in ("epoch", "loss", "seconds", "train_seconds")} | {METRIC: h["valid"][METRIC]}
            for h in history
        ],
        "config": metrics["config"],
    }


def stem(dataset: str, model: str, tag: str) -> str:
    """The name shared by a run's result file and run directory."""
    return f"{dataset}-{model}" + (f"-{tag}" if tag else "")


def seconds_to(history: list[dict[str, Any]], target: float | None) -> float | None:
    """Elapsed fit time at the first validation reaching `target`; None if never (or no target)."""
    if target is None:
        return None
    return next((h["seconds"] for h in history if h["valid"][METRIC] >= target), None)


def throughput(run_dir: Path, batch_size: int, threads: int) -> dict[str, Any]:
    """Users per second of full-ranking test evaluation of the run's selected model (worker side).

    Timed from the model's forward pass (LightGCN-style propagation, or GF-CF's filter per batch)
    to the last metric; loading and GF-CF's refit are left out.
    """
    import torch

    from llmrec.evaluate import evaluate, model_scorer
    from llmrec.experiment import load_trained

    if threads:
        torch.set_num_threads(threads)
    run = load_trained(run_dir)  # the graph it trained on (None for models without one)
    cfg, split, graph = run.cfg, run.split, run.graph
    model = run.model()  # the first seed's selected model (a closed-form one solved on the graph's edges)
    start = time.perf_counter()
    metrics = evaluate(
        model_scorer(model, graph), split.test, [split.train, split.valid], cfg.eval.ks, batch_size
    )
    seconds = time.perf_counter() - start
    users = len(split.test.active_users())
    return {
        "users": users,
        "batch_size": batch_size,
        "seconds": round(seconds, 2),
        "users_per_s": round(users / seconds),
        METRIC: metrics[METRIC],
    }


def run_child(cmd: list[str], log: Path, threads: int) -> dict[str, Any]:
    """Run cmd with output to `log`; its own wall time and peak RSS (os.wait4, this child only)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if threads:
        env.update({v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        tail = "".join(log.read_text(encoding="utf-8", errors="replace").splitlines(True)[-20:])
        raise SystemExit(f"failed: {shlex.join(cmd)}\n{tail}")
    # Linux reports ru_maxrss in KiB
    return {"command": shlex.join(cmd), "wall_seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


def summary_line(r: dict[str, Any]) -> str:
    """One line per run for the terminal."""
    to_target = "-" if r["seconds_to_target"] is None else f"{r['seconds_to_target']:.0f}s"
    return (
        f"  {r['dataset']} {r['model']}: test {METRIC} {r['test'][METRIC]:.4f}, "
        f"valid {r['valid'][METRIC]:.4f}; {r['epochs']} epochs, {r['train_seconds_per_epoch']} s/epoch "
        f"(training only), to target {to_target}, wall {r['wall_seconds']:.0f}s, "
        f"peak {r['peak_rss_mb']:.0f} MB; eval {r['eval']['users_per_s']} users/s"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
