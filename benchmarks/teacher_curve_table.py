"""The break-even table of teacher quality from finished `llmrec run` folders (docs/teacher.md).

    python benchmarks/teacher_curve_table.py FOLDER [FOLDER ...] [--metric recall@20]

Each FOLDER holds an `llmrec run` of examples/ml100k_teacher_curve.toml (a sweep point, or a run with
another teacher): summary.json and augment/audit.json. One Markdown row per folder: the teacher (as
labelled), the share of its liked edges that are true held-out positives, seeds, LightGCN and LLMRec
on test, their difference and the paired p-value.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def row(folder: Path, metric: str) -> str:
    """One table row for a finished run folder."""
    summary = json.loads((folder / "summary.json").read_text())
    audit = json.loads((folder / "augment" / "audit.json").read_text())
    teacher = audit["teacher"]
    name = f"simulated p={teacher['quality']}" if teacher["kind"] == "simulated" else teacher["kind"]
    edges = audit["edges"]
    in_pool = edges.get("liked_in_pool")
    models = summary["models"]
    base, ours = models["lightgcn"], models["llmrec"]
    b, o = base["test"][metric], ours["test"][metric]
    p = (ours.get("p_value") or {}).get(metric)
    return (
        f"| {name} | {'—' if in_pool is None else f'{in_pool:.1%}'} | {summary['seeds']} | "
        f"{b:.4f} ± {base['test_std'][metric]:.4f} | {o:.4f} ± {ours['test_std'][metric]:.4f} | "
        f"{o - b:+.4f} | {'—' if p is None else f'{p:.3g}'} |"
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
        if (folder / "summary.json").is_file():
            print(row(folder, args.metric))
        else:
            print(f"| {folder.name}: not finished | | | | | | |")


if __name__ == "__main__":
    main()
