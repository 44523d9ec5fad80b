"""`llmrec datasets | methods | report | evaluate | recommend`: the commands that read, never train."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llmrec.cli.common import data_dirs, format_table, run_ks
from llmrec.errors import ConfigError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add this group's subcommands to `sub`; `common` holds --data-dir, --debug, --quiet."""
    p = sub.add_parser("datasets", parents=[common], help="list known datasets and where they were found")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("methods", parents=[common], help="list the methods, their stages, knobs and defaults")
    p.add_argument("name", nargs="?", help="one method (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_methods)

    p = sub.add_parser("report", parents=[common], help="write report.html and report.md of a run folder")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="an `llmrec run` or `llmrec ablate` folder")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("evaluate", parents=[common], help="re-evaluate a run directory on valid and test")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("recommend", parents=[common], help="top-k unseen items for one user of a run")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--user", required=True, help="the user's id as in the dataset")
    p.add_argument("-k", type=int, default=10, help="number of items (default 10)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_recommend)


def cmd_datasets(args: argparse.Namespace) -> int:
    """`llmrec datasets`."""
    from llmrec.data.registry import dataset_status

    dirs = data_dirs(args)
    rows = dataset_status(dirs)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print("searched: " + ", ".join(str(d) for d in dirs))
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        where = str(r["path"]) if r["path"] else "missing " + ", ".join(r.get("missing", []))
        print(f"{r['name']:<{width}}  {where}\n{'':<{width}}  {r['description']}")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    """`llmrec methods [NAME]`."""
    from llmrec.methods.listing import describe, format_methods

    rows = describe(args.name)
    print(json.dumps(rows, indent=2) if args.json else format_methods(rows))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """`llmrec report RUN_DIR`."""
    from llmrec.report import write_report

    if not (args.run_dir / "summary.json").is_file():
        raise ConfigError(f"{args.run_dir} is not an `llmrec run` folder: summary.json is missing")
    for path in write_report(args.run_dir):
        print(path)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """`llmrec evaluate RUN_DIR`."""
    from llmrec.inference import evaluate_run

    result = evaluate_run(args.run_dir)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table({result["model"]: result}, len(result["runs"]), run_ks(result)))
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    """`llmrec recommend RUN_DIR --user ID`."""
    from llmrec.inference import recommend

    items = recommend(args.run_dir, args.user, args.k)
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    for row in items:
        label = row["title"] or f"item {row['item_id']}"
        print(f"{row['rank']:>3}. {label}  (id {row['item_id']}, score {row['score']:.3f})")
    return 0
