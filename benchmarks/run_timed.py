"""Run an llmrec command in a child process and record its wall time and peak memory.

Usage: python benchmarks/run_timed.py RESULT.json -- llmrec train --config ... --out DIR
The child's metrics.json (`llmrec train`) or summary.json (`llmrec run`), found through --out, is copied
into the result.
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    """Time the command after `--`, write RESULT.json with wall time, peak RSS and metrics."""
    result_path, sep, *command = argv
    if sep != "--" or not command:
        raise SystemExit(__doc__)
    start = time.perf_counter()
    code = subprocess.call(command)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
    record: dict = {
        "command": " ".join(command),
        "exit_code": code,
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, {platform.python_version()}",
    }
    if "--out" in command:
        out = Path(command[command.index("--out") + 1])
        metrics, summary = out / "metrics.json", out / "summary.json"
        if summary.exists():  # `llmrec run` / `ablate`: every model's metrics and p-values
            data = json.loads(summary.read_text())
            record.update({k: data[k] for k in ("dataset", "seeds", "models") if k in data})
            record["best_baseline"] = data.get("best_baseline")
        elif metrics.exists():
            data = json.loads(metrics.read_text())
            record.update({k: data[k] for k in ("dataset", "model", "valid", "test", "train_seconds")})
            record["epochs"] = [
                (h["epoch"], round(h["seconds"], 1), h["valid"]["recall@20"])
                for h in data["runs"][0]["history"]
            ]
            record["best_epoch"] = data["runs"][0]["best_epoch"]
    Path(result_path).parent.mkdir(parents=True, exist_ok=True)
    Path(result_path).write_text(json.dumps(record, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
