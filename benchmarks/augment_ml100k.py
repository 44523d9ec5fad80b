"""The full local-teacher augmentation of MovieLens-100K (943 users, 1,682 items), encoding included.

Three passes of `llmrec augment RUN --llm local`, each in a fresh process and timed wall-clock:
cold (empty vector cache, empty output folder), warm (the same again: the folder is reused) and
re-encoded-from-cache (a new output folder, but the vectors are cached). Without --run-dir a quick
BPR-MF base model is trained first (not timed) with every rating as a positive, so that all 943 users
and 1,682 items are in the run.

Usage: python benchmarks/augment_ml100k.py [--run-dir RUN] [--work DIR] [--json RESULT.json]
Targets (issue 4): cold <= 5 min; warm <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

LLMREC = str(Path(sys.executable).with_name("llmrec"))


def train_base(run_dir: Path) -> None:
    """A quick BPR-MF on ML-100K with every rating kept, so every user and item is in the run."""
    command = [
        LLMREC, "train", "--dataset", "ml-100k", "--model", "bpr-mf", "--epochs", "40", "--out", str(run_dir),
        "--set", "data.rating_threshold=1.0", "--set", "train.lr=0.005", "--set", "train.eval_every=10",
        "--no-progress",
    ]  # fmt: skip
    subprocess.run(command, check=True)


def augment(run_dir: Path, out: Path, cache: Path) -> dict:
    """One `llmrec augment` in a child process: wall seconds and the audit it printed."""
    command = [
        LLMREC, "augment", str(run_dir), "--llm", "local", "--out", str(out), "--json", "--no-progress",
        "--set", f'augment.vector_cache="{cache}"',
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    audit = json.loads(done.stdout)
    return {"seconds": round(seconds, 1), "audit": audit}


def main() -> None:
    """Train (if needed), run the three passes, print and optionally save the numbers."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run-dir", type=Path, help="an existing ML-100K run (default: train one)")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/work/augment_ml100k"))
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    run_dir = args.run_dir or args.work / "base"
    if args.run_dir is None:
        train_base(run_dir)
    cache = args.work / "vectors.sqlite"
    cold = augment(run_dir, args.work / "augment", cache)
    warm = augment(run_dir, args.work / "augment", cache)
    recached = augment(run_dir, args.work / "augment-again", cache)
    audit = cold["audit"]
    result = {
        "users": audit["users"],
        "items": audit["items"],
        "cold_seconds": cold["seconds"],
        "warm_seconds": warm["seconds"],
        "warm_reused": warm["audit"].get("reused", False),
        "new_folder_cached_vectors_seconds": recached["seconds"],
        "encoding": audit["encoding"],
        "edges": audit["edges"]["usable"],
        "quality": audit["edges"]["quality"],
        "coverage": audit["attributes"]["coverage"],
        "profiles": audit["profiles"]["usable"],
        "stage_seconds": audit["seconds"],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
