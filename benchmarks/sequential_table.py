"""The sequential task's results table: every model of `llmrec run` folders, next to RecBole's SASRec.

Reads each folder's summary.json (means, stds, paired p-values against the best baseline) and the
SASRec seeds' records (stopping reason, wall and CPU seconds) and prints a Markdown table.

Usage: python benchmarks/sequential_table.py RUN_DIR [RUN_DIR ...]
The folders come from `llmrec run examples/sasrec_ml100k.toml`, `examples/sasrec_ml_latest_small.toml`
or `examples/llama4rec_seq_ml100k.toml`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

METRICS = ("hit@3", "hit@5", "hit@10", "ndcg@3", "ndcg@5", "ndcg@10")
# RUCAIBox/RecBole benchmark/hyper/sequential/SASRec-ml-1m_seq.md (commit f2a5a034): best lr 0.0005
RECBOLE_ML1M = {"hit@10": 0.2468, "ndcg@10": 0.1286}


def seed_times(run: Path) -> str:
    """Per-seed training wall seconds (and CPU seconds where recorded) and why each stopped."""
    parts = []
    for path in sorted(run.glob("seed*.json")):
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["run"]
        cpu = record["history"][-1].get("cpu_seconds") if record.get("history") else None
        wall = f"{record['train_seconds'] / 60:.1f} min"
        parts.append(f"{wall}{f' ({cpu / 60:.1f} CPU)' if cpu else ''}, {record['stopped_by']}")
    return "; ".join(parts)


def rows(folder: Path) -> list[str]:
    """One Markdown row per model of a run folder."""
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    out = []
    for name, entry in summary["models"].items():
        cells = []
        for metric in METRICS:
            mean, std = entry["test"].get(metric), entry["test_std"].get(metric)
            p = (entry.get("p_value") or {}).get(metric)
            star = "" if p is None else ("*" if p < 0.05 else "") + ("*" if p < 0.01 else "")
            cells.append("-" if mean is None else f"{mean:.4f} ± {std:.4f}{star}")
        times = seed_times(folder / name) if (folder / name / "seed2024.json").is_file() else ""
        out.append(f"| {summary['dataset']} | {name} | " + " | ".join(cells) + f" | {times} |")
    return out


def main(argv: list[str]) -> None:
    """Print the table for the given run folders, then RecBole's published ML-1M row."""
    print("| dataset | model | " + " | ".join(METRICS) + " | training per seed |")
    print("|---|---|" + "---:|" * len(METRICS) + "---|")
    for folder in argv:
        print("\n".join(rows(Path(folder))))
    published = " | ".join(f"{RECBOLE_ML1M[m]:.4f}" if m in RECBOLE_ML1M else "-" for m in METRICS)
    print(f"| ml-1m (RecBole, published) | SASRec | {published} | 9,322 s per trial (their GPU) |")


if __name__ == "__main__":
    main(sys.argv[1:])
