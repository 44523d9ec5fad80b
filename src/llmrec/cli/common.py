"""What the command groups share: run options, config resolution, data folders, the results table."""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.errors import ConfigError, DataError

ENV_DATA_DIR = "LLMREC_DATA_DIR"
DEFAULT_CACHE = "runs/llm_cache.sqlite"  # the same default as LLMConfig.cache_path
TABLE_METRICS = ("recall", "ndcg", "precision", "hit", "mrr")  # shown at one K (`table_metrics`)


def add_run_options(p: argparse.ArgumentParser, with_config: bool = True) -> None:
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
        key, value = parse_override(item)
        changes[key] = value
    return apply_changes(cfg, changes) if changes else cfg


def parse_override(item: str) -> tuple[str, Any]:
    """`key=value` with a TOML value; bare words are taken as strings."""
    if "=" not in item:
        raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
    key, raw = item.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def apply_changes(cfg: RunConfig, changes: dict[str, Any]) -> RunConfig:
    """Apply dotted overrides through the typed config (unknown keys raise with the valid keys; a table
    of a model or method is checked by its registry when the run is planned)."""
    return cfgmod.replace(cfg, **changes)


def data_dirs(args: argparse.Namespace, cfg: RunConfig | None = None) -> list[Path]:
    """Data directories in search order."""
    from llmrec.data.registry import find_data_dirs

    explicit = args.data_dir or (cfg.data.data_dir if cfg else None)
    return find_data_dirs(explicit, os.environ.get(ENV_DATA_DIR))


def config_of_run(run_dir: Path) -> RunConfig:
    """The config a run was trained with (any model's, for an `llmrec run` folder), else the defaults."""
    found = [run_dir / "config.toml", *sorted(run_dir.glob("*/config.toml"))]
    path = next((p for p in found if p.is_file()), None)
    return cfgmod.load(path) if path else RunConfig()


def trained_folder(run_dir: Path) -> Path:
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


def significance_note(summary: dict[str, Any]) -> str:
    """The line under the table that says what the stars mean."""
    sig = summary.get("significance", {})
    return (
        f"stars: different from {sig.get('against', '?')} with * p < 0.05, ** p < 0.01, *** p < 0.001 "
        f"(paired {sig.get('test', 'ttest')} over seeds; the baseline is the {sig.get('chosen_by', '')})"
    )


def teacher_text(teacher: Any) -> str:
    """'local teacher, no LLM', a labelled measurement teacher, or 'LLM openai:model' for the summary."""
    kind = teacher.get("kind") if isinstance(teacher, dict) else None
    if kind == "popularity":
        return "popularity teacher, no LLM"
    if kind == "simulated":
        return f"SIMULATED teacher p={teacher.get('quality')}, no LLM"
    if kind != "llm":
        return "local teacher, no LLM"
    return f"LLM {teacher.get('backend')}:{teacher.get('model')}"


def table_metrics(ks: Sequence[int]) -> tuple[str, ...]:
    """The table's columns: each metric at the configured K nearest 20, so that no column shows a
    metric that was never computed (a run with eval.ks = [3, 5, 10] is shown at 10)."""
    main = min(ks, key=lambda k: (abs(k - 20), k))
    return tuple(f"{m}@{main}" for m in TABLE_METRICS)


def run_ks(result: dict[str, Any]) -> tuple[int, ...]:
    """The Ks a result holds metrics at."""
    ks = sorted({int(name.split("@")[1]) for name in result["test"] if "@" in name})
    return tuple(ks) or (20,)


def format_table(models: dict[str, dict[str, Any]], seeds: int, ks: Sequence[int] = (10, 20, 50)) -> str:
    """Plain-text table of test metrics (mean ± std when several seeds, stars from `p_value` maps) at
    the configured `ks`."""
    from llmrec.significance import stars

    rating = any("rmse" in res["test"] for res in models.values())  # the rating task: errors, lower is better
    columns = ("rmse", "mae") if rating else table_metrics(ks)
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
