"""The break-even table of teacher quality from finished `llmrec run` folders (docs/teacher.md).

    python benchmarks/teacher_curve_table.py FOLDER [FOLDER ...] [--metric recall@20]

Each FOLDER holds an `llmrec run` of examples/ml100k_teacher_curve.toml (a sweep point, or a run with
another teacher): summary.json and augment/audit.json. One Markdown row per folder: the teacher (as
labelled), the share of its liked edges that are true held-out positives, seeds, LightGCN and LLMRec
on test over the seeds both finished (a run still going counts its finished seeds), their mean
difference and the paired t-test's p-value (two-sided, as the run summaries).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from llmrec.augment.artefacts import read_edges
from llmrec.rundir import load_split
from llmrec.significance import paired_p_value


def seed_tests(folder: Path, metric: str) -> dict[int, float]:
    """Test `metric` by seed from a model folder's finished seed files (a run still going has some)."""
    out = {}
    for path in sorted(folder.glob("seed*.json")):
        run = json.loads(path.read_text())["run"]
        out[int(run["seed"])] = float(run["test"][metric])
    return out


def liked_in_pool(folder: Path) -> float | None:
    """Share of the augmented liked edges that are the user's teacher-pool items (any teacher)."""
    split = load_split(folder / "lightgcn")
    if split.pool is None:
        return None
    edges = read_edges(folder / "augment")
    pool = split.pool.user_items
    return float(np.mean([pool[u, i] > 0 for u, i in zip(edges["user"], edges["pos"], strict=True)]))


def row(folder: Path, metric: str) -> str:
    """One table row: the seeds LightGCN and LLMRec both finished, paired."""
    audit = json.loads((folder / "augment" / "audit.json").read_text())
    teacher = audit["teacher"]
    name = f"simulated p={teacher['quality']}" if teacher["kind"] == "simulated" else teacher["kind"]
    in_pool = audit["edges"].get("liked_in_pool", liked_in_pool(folder))
    base, ours = seed_tests(folder / "lightgcn", metric), seed_tests(folder / "llmrec", metric)
    seeds = sorted(set(base) & set(ours))
    if len(seeds) == 1:
        o_b = f"{ours[seeds[0]] - base[seeds[0]]:+.4f}"
        return (
            f"| {name} | {'—' if in_pool is None else f'{in_pool:.1%}'} | 1 | {base[seeds[0]]:.4f} | "
            f"{ours[seeds[0]]:.4f} | {o_b} | — |"
        )
    if not seeds:
        return f"| {name} | {'—' if in_pool is None else f'{in_pool:.1%}'} | 0 (running) | | | | |"
    b, o = np.array([base[k] for k in seeds]), np.array([ours[k] for k in seeds])
    p = paired_p_value(o.tolist(), b.tolist()) if len(seeds) > 1 else None
    return (
        f"| {name} | {'—' if in_pool is None else f'{in_pool:.1%}'} | {len(seeds)} | "
        f"{b.mean():.4f} ± {b.std(ddof=1):.4f} | {o.mean():.4f} ± {o.std(ddof=1):.4f} | "
        f"{(o - b).mean():+.4f} | {'—' if p is None else f'{p:.3g}'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--metric", default="recall@20")
    args = parser.parse_args()
    print(f"| teacher | liked edges that are true | seeds | LightGCN {args.metric} | LLMRec {args.metric} "
          "| LLMRec - LightGCN | p (paired) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for folder in args.folders:
        if (folder / "augment" / "audit.json").is_file():
            print(row(folder, args.metric))
        else:
            print(f"| {folder.name}: augmentation not finished | | | | | | |")


if __name__ == "__main__":
    main()
