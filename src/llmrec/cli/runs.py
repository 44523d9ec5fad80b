"""`llmrec train | run | ablate | sweep | augment`: the commands that train or augment."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from llmrec import config as cfgmod
from llmrec.cli.common import (
    add_run_options,
    apply_changes,
    config_of_run,
    data_dirs,
    format_table,
    parse_override,
    resolve_config,
    significance_note,
    teacher_text,
)
from llmrec.errors import ConfigError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add this group's subcommands to `sub`; `common` holds --data-dir, --debug, --quiet."""
    p = sub.add_parser("train", parents=[common], help="train one method and evaluate it on test once")
    add_run_options(p)
    p.add_argument("--dataset", help="dataset name (see `llmrec datasets`) or `custom`")
    p.add_argument(
        "--model",
        "--method",
        dest="model",
        help="a method of `llmrec methods`, e.g. lightgcn, sgl, gf-cf, llmrec (needs llmrec.augment_dir)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "run",
        parents=[common],
        help="every method of a config on one split (baselines, LLM methods), compared; report",
    )
    p.add_argument("config_file", metavar="CONFIG.toml")
    add_run_options(p, with_config=False)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "ablate", parents=[common], help="`llmrec run`, then each method's ablation variants (e.g. LLMRec's)"
    )
    p.add_argument("config_file", metavar="CONFIG.toml")
    add_run_options(p, with_config=False)
    p.add_argument(
        "--variants", default="", help="comma-separated variant names to run (default: all; `llmrec methods`)"
    )
    p.set_defaults(func=cmd_ablate)

    p = sub.add_parser(
        "sweep", parents=[common], help="`llmrec run` over a grid of settings, same seeds, with a plot"
    )
    p.add_argument("config_file", metavar="CONFIG.toml")
    p.add_argument(
        "--set-grid",
        action="append",
        default=[],
        required=True,
        metavar="KEY=V1,V2,...",
        help="a config key and its values (TOML, comma-separated); several keys give their product",
    )
    p.add_argument("--metric", default="", help="the metric plotted (default: train.metric)")
    add_run_options(p, with_config=False)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser(
        "augment", parents=[common], help="augment a trained run: LLM-picked edges, item attributes, profiles"
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="an `llmrec train` or `llmrec run` folder")
    p.add_argument(
        "--llm",
        choices=["openai", "llamacpp", "replay", "local"],
        help="the teacher: an LLM backend, or local (no LLM: a labelled baseline); default augment.teacher",
    )
    p.add_argument("--config", type=Path, help="TOML with [augment] and [llm] tables (default: the run's)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an augment.* or llm.* key, e.g. --set augment.n_candidates=20 --set llm.model=m",
    )
    p.add_argument("--out", type=Path, help="output folder (default: RUN_DIR/augment)")
    p.add_argument(
        "--import-llmrec", type=Path, metavar="DIR", help="LLMRec's released files in DIR as teacher"
    )
    p.add_argument("--export-llmrec", type=Path, metavar="DIR", help="also write LLMRec's layout into DIR")
    p.add_argument("--json", action="store_true", help="print the audit as JSON")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: only on a terminal)",
    )
    p.set_defaults(func=cmd_augment)


def cmd_train(args: argparse.Namespace) -> int:
    """`llmrec train`."""
    from llmrec.pipeline import train_one
    from llmrec.plan import plan

    cfg = resolve_config(args, args.config)
    plan(cfg, single=True)  # every setting checked before the data loads
    out = args.out or Path("runs") / f"{cfg.data.dataset}-{cfg.model.name}-{cfgmod.fingerprint(cfg)[:8]}"
    run = train_one(cfg, data_dirs(args, cfg), out, args.progress)
    print(format_table({run.name: run.metrics}, cfg.seeds, cfg.eval.ks))
    print(f"run directory: {out}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """`llmrec run CONFIG.toml`."""
    from llmrec.pipeline import run

    cfg = resolve_config(args, Path(args.config_file))
    out = args.out or Path("runs") / f"{Path(args.config_file).stem}-{cfgmod.fingerprint(cfg)[:8]}"
    summary = run(cfg, data_dirs(args, cfg), out, args.progress, dict(os.environ))
    print(f"{cfg.data.dataset}: test metrics, mean ± std over {cfg.seeds} seed(s)")
    print(format_table(summary["models"], cfg.seeds, cfg.eval.ks))
    if "significance" in summary:
        print(significance_note(summary))
    if "augmentation" in summary:
        print(f"augmentation ({teacher_text(summary['teacher'])}): {out / 'augment' / 'audit.txt'}")
    print(f"run directory: {out} (summary.json, report: {out / 'report.html'})")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    """`llmrec ablate CONFIG.toml`."""
    from llmrec.ablation import ablate

    cfg = resolve_config(args, Path(args.config_file))
    out = args.out or Path("runs") / f"{Path(args.config_file).stem}-{cfgmod.fingerprint(cfg)[:8]}"
    only = [v.strip() for v in args.variants.split(",") if v.strip()]
    result = ablate(cfg, data_dirs(args, cfg), out, args.progress, dict(os.environ), only)
    if not result["methods"]:
        print("no method of this run has ablation variants (`llmrec methods` lists them)")
    for part in result["methods"]:
        seeds = f"mean ± std over {cfg.seeds} seed(s)"
        print(f"{cfg.data.dataset}: {part['method']} ablation, test metrics, {seeds}")
        print(format_table({r["name"]: r for r in part["variants"]}, cfg.seeds, cfg.eval.ks))
    print(f"p-values: paired {cfg.eval.significance} against the full method, over seeds")
    print(f"run directory: {out} (ablation.json, report: {out / 'report.html'})")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """`llmrec sweep CONFIG.toml --set-grid key=v1,v2`."""
    from llmrec.sweep import SWEEP_JSON, label, sweep

    cfg = resolve_config(args, Path(args.config_file))
    grid: dict[str, list[Any]] = {}
    for item in args.set_grid:
        key, _, values = item.partition("=")
        if not key or not values:
            raise ConfigError(f"--set-grid expects KEY=V1,V2,..., got {item!r}")
        grid[key.strip()] = [parse_override(f"{key}={v.strip()}")[1] for v in values.split(",")]
    out = (
        args.out or Path("runs") / f"{Path(args.config_file).stem}-sweep-{cfgmod.fingerprint(cfg, grid)[:8]}"
    )
    result = sweep(cfg, grid, data_dirs(args, cfg), out, args.metric, args.progress, dict(os.environ))
    metric = result["metric"]
    for row in result["points"]:
        print(f"{label(row['point'])}: test {metric}, mean ± std over {cfg.seeds} seed(s)")
        print(format_table(row["models"], cfg.seeds, cfg.eval.ks))
    print(f"sweep folder: {out} ({SWEEP_JSON}, sweep.html, one run folder per point)")
    return 0


def cmd_augment(args: argparse.Namespace) -> int:
    """`llmrec augment RUN_DIR`."""
    from llmrec.augment.audit import format_audit
    from llmrec.augment.stage import export_run
    from llmrec.inference import augment_run, base_run

    cfg = cfgmod.load(args.config) if args.config else config_of_run(args.run_dir)
    changes: dict[str, Any] = {}
    for item in args.set:
        key, value = parse_override(item)
        if key.split(".")[0] not in ("augment", "llm"):
            raise ConfigError(f"--set {key}: `llmrec augment` takes only augment.* and llm.* keys")
        changes[key] = value
    if args.llm and args.import_llmrec:
        raise ConfigError("--llm and --import-llmrec both name a teacher; give one")
    if args.llm == "local":
        changes["augment.teacher"] = "local"
    elif args.llm:
        changes.update({"augment.teacher": "llm", "llm.backend": args.llm})
    if args.import_llmrec:
        changes.update({"augment.teacher": "llmrec", "augment.import_dir": str(args.import_llmrec)})
    cfg = apply_changes(cfg, changes) if changes else cfg
    audit = augment_run(args.run_dir, cfg.augment, cfg.llm, dict(os.environ), args.out, args.progress)
    print(json.dumps(audit, indent=2) if args.json else format_audit(audit))
    if args.export_llmrec:
        base = base_run(args.run_dir, cfg.augment.base_model)
        folder = args.out or args.run_dir / "augment"
        files = export_run(base, cfg.augment, folder, args.export_llmrec)
        print(f"LLMRec layout: {', '.join(files)} in {args.export_llmrec}", file=sys.stderr)
    print(f"augmentation folder: {args.out or args.run_dir / 'augment'}", file=sys.stderr)
    return 0
