"""Thin command-line layer. The only module that reads sys.argv or the environment, or sets up logging."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmrec import __version__
from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.errors import ConfigError, DataError, LLMRecError

ENV_DATA_DIR = "LLMREC_DATA_DIR"
DEFAULT_CACHE = "runs/llm_cache.sqlite"  # the same default as LLMConfig.cache_path
TABLE_METRICS = ("recall", "ndcg", "precision", "hit", "mrr")  # shown at one K (`table_metrics`)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `llmrec` console command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    if not args.debug:  # the encoder's INFO lines are its internals, whichever command loads it
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except LLMRecError as exc:
        if args.debug:
            raise
        print(f"llmrec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llmrec: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options."""
    parser = argparse.ArgumentParser(prog="llmrec", description="LLM-augmented graph recommendation.")
    parser.add_argument("--version", action="version", version=f"llmrec {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", help=f"dataset folder (default: ${ENV_DATA_DIR}, ./data, ~/.cache/llmrec/data)"
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    common.add_argument("--quiet", action="store_true", help="only warnings and results")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("datasets", parents=[common], help="list known datasets and where they were found")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("methods", parents=[common], help="list the methods, their stages, knobs and defaults")
    p.add_argument("name", nargs="?", help="one method (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_methods)

    p = sub.add_parser("train", parents=[common], help="train one method and evaluate it on test once")
    _add_run_options(p)
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
    _add_run_options(p, with_config=False)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "ablate", parents=[common], help="`llmrec run`, then each method's ablation variants (e.g. LLMRec's)"
    )
    p.add_argument("config_file", metavar="CONFIG.toml")
    _add_run_options(p, with_config=False)
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
    _add_run_options(p, with_config=False)
    p.set_defaults(func=cmd_sweep)

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

    cache = sub.add_parser("cache", help="inspect or export the LLM response cache")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    p = cache_sub.add_parser("stats", parents=[common], help="entries per stage, size, age")
    p.add_argument("--path", default=DEFAULT_CACHE, help=f"cache file (default {DEFAULT_CACHE})")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_cache_stats)
    p = cache_sub.add_parser(
        "export", parents=[common], help="write every cached answer as JSONL (replayable)"
    )
    p.add_argument("out", type=Path, help="output .jsonl file")
    p.add_argument("--path", default=DEFAULT_CACHE, help=f"cache file (default {DEFAULT_CACHE})")
    p.set_defaults(func=cmd_cache_export)

    instruct = sub.add_parser(
        "instruct", help="instruction-tuning data from a run; LoRA tuning of a local LLM on it"
    )
    instruct_sub = instruct.add_subparsers(dest="instruct_command", required=True, metavar="ACTION")
    p = instruct_sub.add_parser(
        "export", parents=[common], help="llmrec's prompts answered from training data, as chat JSONL"
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="an `llmrec train` or `llmrec run` folder")
    p.add_argument("--out", type=Path, help="output .jsonl (default: RUN_DIR/instruct.jsonl)")
    p.add_argument("--tasks", help="comma-separated of listwise, pairs, attributes (default: all three)")
    p.add_argument("--max-per-task", type=int, help="a seeded sample of at most N per task (default: all)")
    p.add_argument("--seed", type=int, help="hold-outs, negatives, orders (default 2024)")
    p.add_argument(
        "--attributes", help="attributes asked (default: the run's augment.attributes, genres, year)"
    )
    p.set_defaults(func=cmd_instruct_export)
    p = instruct_sub.add_parser(
        "tune", parents=[common], help="fit a LoRA adapter of a local causal LM on a chat JSONL"
    )
    p.add_argument("data", type=Path, metavar="DATA.jsonl")
    p.add_argument("--model", type=Path, required=True, help="a local Hugging Face causal LM folder")
    p.add_argument("--out", type=Path, required=True, help="adapter folder to write")
    # defaults live in TuneConfig; the help texts only repeat them
    p.add_argument("--epochs", type=int, help="default 3")
    p.add_argument("--lr", type=float, help="AdamW learning rate (default 2e-4)")
    p.add_argument("--rank", type=int, help="LoRA rank (default 16)")
    p.add_argument("--alpha", type=int, help="LoRA alpha (default 32)")
    p.add_argument("--max-length", type=int, help="longer examples are skipped, never cut (default 2048)")
    p.add_argument("--batch-size", type=int, help="default 4")
    p.add_argument("--seed", type=int, help="LoRA init and example order (default 2024)")
    p.set_defaults(func=cmd_instruct_tune)
    _forbid_abbreviations(parser)
    return parser


def _forbid_abbreviations(parser: argparse.ArgumentParser) -> None:
    """Turn off argparse's prefix matching in `parser` and every subcommand: otherwise `--seed 7`
    would silently mean `--seeds 7` (seven seeds) instead of failing as an unknown option."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _forbid_abbreviations(child)


def _add_run_options(p: argparse.ArgumentParser, with_config: bool = True) -> None:
    """Options shared by `train` and `run`."""
    if with_config:
        p.add_argument("--config", type=Path, help="TOML config (may name dataset and model itself)")
    p.add_argument("--seeds", type=int, help="repeat over N seeds and report mean and std")
    p.add_argument("--epochs", type=int, help="maximum training epochs")
    p.add_argument("--out", type=Path, help="run directory (default: runs/<dataset>-<model>-<hash>)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set train.lr=0.01 --set split.method=loo (TOML values)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: only on a terminal)",
    )


def resolve_config(args: argparse.Namespace, path: Path | None) -> RunConfig:
    """Config file, then shortcuts (--dataset, --model, --seeds, --epochs), then --set overrides."""
    cfg = cfgmod.load(path) if path else RunConfig()
    changes: dict[str, Any] = {}
    if getattr(args, "dataset", None):
        changes["data.dataset"] = args.dataset
    if getattr(args, "model", None):
        changes["model.name"] = args.model
    if args.seeds is not None:
        changes["seeds"] = args.seeds
    if args.epochs is not None:
        changes["train.epochs"] = args.epochs
    for item in args.set:
        key, value = _parse_override(item)
        changes[key] = value
    return _apply(cfg, changes) if changes else cfg


def _parse_override(item: str) -> tuple[str, Any]:
    """`key=value` with a TOML value; bare words are taken as strings."""
    if "=" not in item:
        raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
    key, raw = item.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def _apply(cfg: RunConfig, changes: dict[str, Any]) -> RunConfig:
    """Apply dotted overrides through the typed config (unknown keys raise with the valid keys; a table
    of a model or method is checked by its registry when the run is planned)."""
    return cfgmod.replace(cfg, **changes)


def _data_dirs(args: argparse.Namespace, cfg: RunConfig | None = None) -> list[Path]:
    """Data directories in search order."""
    from llmrec.data.registry import find_data_dirs

    explicit = args.data_dir or (cfg.data.data_dir if cfg else None)
    return find_data_dirs(explicit, os.environ.get(ENV_DATA_DIR))


def cmd_datasets(args: argparse.Namespace) -> int:
    """`llmrec datasets`."""
    from llmrec.data.registry import dataset_status

    dirs = _data_dirs(args)
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


def cmd_train(args: argparse.Namespace) -> int:
    """`llmrec train`."""
    from llmrec.pipeline import train_one
    from llmrec.plan import plan

    cfg = resolve_config(args, args.config)
    plan(cfg, single=True)  # every setting checked before the data loads
    out = args.out or Path("runs") / f"{cfg.data.dataset}-{cfg.model.name}-{cfgmod.fingerprint(cfg)[:8]}"
    run = train_one(cfg, _data_dirs(args, cfg), out, args.progress)
    print(format_table({run.name: run.metrics}, cfg.seeds, cfg.eval.ks))
    print(f"run directory: {out}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """`llmrec run CONFIG.toml`."""
    from llmrec.pipeline import run

    cfg = resolve_config(args, Path(args.config_file))
    out = args.out or Path("runs") / f"{Path(args.config_file).stem}-{cfgmod.fingerprint(cfg)[:8]}"
    summary = run(cfg, _data_dirs(args, cfg), out, args.progress, dict(os.environ))
    print(f"{cfg.data.dataset}: test metrics, mean ± std over {cfg.seeds} seed(s)")
    print(format_table(summary["models"], cfg.seeds, cfg.eval.ks))
    if "significance" in summary:
        print(_significance_note(summary))
    if "augmentation" in summary:
        print(f"augmentation ({_teacher_text(summary['teacher'])}): {out / 'augment' / 'audit.txt'}")
    print(f"run directory: {out} (summary.json, report: {out / 'report.html'})")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    """`llmrec ablate CONFIG.toml`."""
    from llmrec.ablation import ablate

    cfg = resolve_config(args, Path(args.config_file))
    out = args.out or Path("runs") / f"{Path(args.config_file).stem}-{cfgmod.fingerprint(cfg)[:8]}"
    result = ablate(cfg, _data_dirs(args, cfg), out, args.progress, dict(os.environ))
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
        grid[key.strip()] = [_parse_override(f"{key}={v.strip()}")[1] for v in values.split(",")]
    out = (
        args.out or Path("runs") / f"{Path(args.config_file).stem}-sweep-{cfgmod.fingerprint(cfg, grid)[:8]}"
    )
    result = sweep(cfg, grid, _data_dirs(args, cfg), out, args.metric, args.progress, dict(os.environ))
    metric = result["metric"]
    for row in result["points"]:
        print(f"{label(row['point'])}: test {metric}, mean ± std over {cfg.seeds} seed(s)")
        print(format_table(row["models"], cfg.seeds, cfg.eval.ks))
    print(f"sweep folder: {out} ({SWEEP_JSON}, sweep.html, one run folder per point)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """`llmrec report RUN_DIR`."""
    from llmrec.report import write_report

    if not (args.run_dir / "summary.json").is_file():
        raise ConfigError(f"{args.run_dir} is not an `llmrec run` folder: summary.json is missing")
    for path in write_report(args.run_dir):
        print(path)
    return 0


def _significance_note(summary: dict[str, Any]) -> str:
    """The line under the table that says what the stars mean."""
    sig = summary.get("significance", {})
    return (
        f"stars: different from {sig.get('against', '?')} with * p < 0.05, ** p < 0.01, *** p < 0.001 "
        f"(paired {sig.get('test', 'ttest')} over seeds; the baseline is the {sig.get('chosen_by', '')})"
    )


def _teacher_text(teacher: Any) -> str:
    """'local teacher (no LLM)' or 'LLM openai:model' for the run summary line."""
    if not isinstance(teacher, dict) or teacher.get("kind") != "llm":
        return "local teacher, no LLM"
    return f"LLM {teacher.get('backend')}:{teacher.get('model')}"


def cmd_evaluate(args: argparse.Namespace) -> int:
    """`llmrec evaluate RUN_DIR`."""
    from llmrec.inference import evaluate_run

    result = evaluate_run(args.run_dir)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table({result["model"]: result}, len(result["runs"]), _run_ks(result)))
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


def cmd_augment(args: argparse.Namespace) -> int:
    """`llmrec augment RUN_DIR`."""
    from llmrec.augment.audit import format_audit
    from llmrec.augment.stage import export_run
    from llmrec.inference import augment_run, base_run

    cfg = cfgmod.load(args.config) if args.config else _config_of_run(args.run_dir)
    changes: dict[str, Any] = {}
    for item in args.set:
        key, value = _parse_override(item)
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
    cfg = _apply(cfg, changes) if changes else cfg
    audit = augment_run(args.run_dir, cfg.augment, cfg.llm, dict(os.environ), args.out, args.progress)
    print(json.dumps(audit, indent=2) if args.json else format_audit(audit))
    if args.export_llmrec:
        base = base_run(args.run_dir, cfg.augment.base_model)
        folder = args.out or args.run_dir / "augment"
        files = export_run(base, cfg.augment, folder, args.export_llmrec)
        print(f"LLMRec layout: {', '.join(files)} in {args.export_llmrec}", file=sys.stderr)
    print(f"augmentation folder: {args.out or args.run_dir / 'augment'}", file=sys.stderr)
    return 0


def _config_of_run(run_dir: Path) -> RunConfig:
    """The config a run was trained with (any model's, for an `llmrec run` folder), else the defaults."""
    found = [run_dir / "config.toml", *sorted(run_dir.glob("*/config.toml"))]
    path = next((p for p in found if p.is_file()), None)
    return cfgmod.load(path) if path else RunConfig()


def cmd_cache_stats(args: argparse.Namespace) -> int:
    """`llmrec cache stats`."""
    from llmrec.cache import cache_stats

    stats = cache_stats(args.path)
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"{stats['path']}: {stats['entries']:,} answers, {stats['bytes'] / 1e6:.1f} MB")
    print(f"oldest {stats['oldest']}, newest {stats['newest']}")
    for stage, n in sorted(stats["stages"].items()):
        print(f"  {stage or '(no stage)'}: {n:,}")
    return 0


def cmd_cache_export(args: argparse.Namespace) -> int:
    """`llmrec cache export OUT.jsonl`."""
    from llmrec.cache import cache_export

    rows = cache_export(args.path, args.out)
    print(f"wrote {rows:,} answers to {args.out}")
    return 0


def _trained_folder(run_dir: Path) -> Path:
    """`run_dir` itself (an `llmrec train` folder), or the first baseline of an `llmrec run` folder:
    every method of a run trains on its one split and saves the same item metadata."""
    from llmrec.methods import METHODS

    if (run_dir / "split.npz").is_file():
        return run_dir
    found = sorted(
        p.parent for p in run_dir.glob("*/metrics.json")
        if (p.parent / "split.npz").is_file() and p.parent.name in METHODS and METHODS[p.parent.name].baseline
    )  # fmt: skip
    if not found:
        raise DataError(f"{run_dir} is not a run directory: no split.npz in it or in a baseline folder below")
    return found[0]


def cmd_instruct_export(args: argparse.Namespace) -> int:
    """`llmrec instruct export RUN_DIR`."""
    import time

    from llmrec.augment.prompts import item_noun
    from llmrec.experiment import load_trained
    from llmrec.instruct.export import ExportConfig, export_examples, text_rows, write_export
    from llmrec.rerank import Llama4RecConfig, item_texts
    from llmrec.rundir import load_item_meta

    started = time.perf_counter()
    folder = _trained_folder(args.run_dir)
    run = load_trained(folder)
    meta = load_item_meta(folder)
    if meta is None:
        raise DataError(f"{folder} saved no item metadata (items.tsv): the prompts need item titles")
    section = cfgmod.from_dict(Llama4RecConfig, run.cfg.sections.get("llama4rec", {}), "llama4rec")
    split_list = lambda text: tuple(t.strip() for t in text.split(",") if t.strip())  # noqa: E731
    attributes = split_list(args.attributes or ",".join([*run.cfg.augment.attributes, "genres", "year"]))
    given = {
        "tasks": args.tasks and split_list(args.tasks),
        "max_per_task": args.max_per_task,
        "seed": args.seed,
    }
    cfg = ExportConfig(
        attributes=tuple(dict.fromkeys(attributes)),
        max_field_words=run.cfg.augment.max_field_words, attribute_noun=item_noun(run.cfg.data.dataset),
        **{k: v for k, v in given.items() if v is not None},
    )  # fmt: skip
    split, records = run.split, meta.to_dict("records")
    ids = split.train.item_ids.tolist()
    hidden = split.valid.user_items + split.test.user_items  # only ever kept out of the examples
    result = export_examples(
        split.train.user_items, hidden, item_texts(records, ids), text_rows(records), ids, section, cfg
    )
    out = args.out or args.run_dir / "instruct.jsonl"
    info = {"run": str(folder), "dataset": run.cfg.data.dataset, "seed": cfg.seed, "tasks": list(cfg.tasks),
            "settings": cfgmod.to_dict(cfg), "llama4rec": cfgmod.to_dict(section),
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
    sidecar = write_export(result, out, info)
    counts = ", ".join(f"{task} {n:,}" for task, n in result.counts["by_task"].items())
    print(f"wrote {result.counts['examples']:,} examples ({counts}) to {out}; counts in {sidecar}")
    return 0


def cmd_instruct_tune(args: argparse.Namespace) -> int:
    """`llmrec instruct tune DATA.jsonl --model PATH --out ADAPTER_DIR`."""
    from llmrec.instruct.tune import LOG_FILE, TuneConfig, tune

    names = ("epochs", "lr", "rank", "alpha", "max_length", "batch_size", "seed")
    cfg = TuneConfig(**{n: getattr(args, n) for n in names if getattr(args, n) is not None})
    result = tune(args.data, args.model, args.out, cfg)
    print("loss by epoch: " + ", ".join(f"{x:.4f}" for x in result.losses))
    print(f"adapter: {args.out} (training log: {args.out / LOG_FILE})")
    return 0


def table_metrics(ks: Sequence[int]) -> tuple[str, ...]:
    """The table's columns: each metric at the configured K nearest 20, so that no column shows a
    metric that was never computed (a run with eval.ks = [3, 5, 10] is shown at 10)."""
    main = min(ks, key=lambda k: (abs(k - 20), k))
    return tuple(f"{m}@{main}" for m in TABLE_METRICS)


def _run_ks(result: dict[str, Any]) -> tuple[int, ...]:
    """The Ks a result holds metrics at."""
    ks = sorted({int(name.split("@")[1]) for name in result["test"] if "@" in name})
    return tuple(ks) or (20,)


def format_table(models: dict[str, dict[str, Any]], seeds: int, ks: Sequence[int] = (10, 20, 50)) -> str:
    """Plain-text table of test metrics (mean ± std when several seeds, stars from `p_value` maps) at
    the configured `ks`."""
    from llmrec.significance import stars

    columns = table_metrics(ks)
    width = max([12, *(len(n) + 2 for n in models)])
    header = f"{'model':<{width}}" + "".join(f"{m:>21}" for m in columns)
    lines = [header, "-" * len(header)]
    for name, res in models.items():
        cells = []
        for m in columns:
            mean = res["test"].get(m, float("nan"))
            std = res.get("test_std", {}).get(m, 0.0)
            mark = stars((res.get("p_value") or {}).get(m))
            cells.append((f"{mean:.4f} ± {std:.4f}" if seeds > 1 else f"{mean:.4f}") + f"{mark:<3}")
        lines.append(f"{name:<{width}}" + "".join(f"{c:>21}" for c in cells))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
