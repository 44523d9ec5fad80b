"""The Python API in a few calls: `run` a config, `train_one` method, `load` a finished run.

    import llmrec
    summary = llmrec.run("examples/ml100k.toml", out="runs/ml100k", seeds=1)
    print(summary["models"]["llmrec"]["test"]["recall@20"])
    lightgcn = llmrec.load("runs/ml100k/lightgcn")  # a TrainedRun: config, split, graph, models
    scores = lightgcn.test_model().score(torch.tensor([0]), lightgcn.test_graph)

Keyword overrides are config keys with dots as double underscores where Python needs it
(`train__lr=0.01`), or pass `overrides={"train.lr": 0.01}`. Like the CLI, the API is an entry point:
it reads `$LLMREC_DATA_DIR` and the LLM's variables (docs/llm.md) from the environment, as users of
the command line would expect of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.data.registry import find_data_dirs
from llmrec.experiment import TrainedRun, load_trained
from llmrec.pipeline import run as run_pipeline
from llmrec.pipeline import train_one as train_method
from llmrec.stages import Result

ENV_DATA_DIR = "LLMREC_DATA_DIR"


def resolve(
    config: str | Path | RunConfig | None, overrides: Mapping[str, Any] | None = None, **keys: Any
) -> RunConfig:
    """A RunConfig from a TOML path (or a config, or the defaults), with dotted overrides applied."""
    cfg = config if isinstance(config, RunConfig) else cfgmod.load(config) if config else RunConfig()
    changes = {**(overrides or {}), **{k.replace("__", "."): v for k, v in keys.items()}}
    return cfgmod.replace(cfg, **changes) if changes else cfg


def _dirs(cfg: RunConfig, data_dir: str | Path | None) -> list[Path]:
    """Data folders in search order: the argument, the config's, $LLMREC_DATA_DIR, the defaults."""
    return find_data_dirs(str(data_dir) if data_dir else cfg.data.data_dir, os.environ.get(ENV_DATA_DIR))


def run(
    config: str | Path | RunConfig,
    out: str | Path,
    data_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    **keys: Any,
) -> dict[str, Any]:
    """`llmrec run`: every method of the config on one split; returns the summary (also in OUT)."""
    cfg = resolve(config, overrides, **keys)
    return run_pipeline(cfg, _dirs(cfg, data_dir), Path(out), show_progress=False, env=dict(os.environ))


def train_one(
    config: str | Path | RunConfig | None = None,
    out: str | Path = "runs/train",
    data_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    **keys: Any,
) -> Result:
    """`llmrec train`: one method (`model__name=...`) over the config's seeds; returns its result (a
    `TrainedRun` for a method that trains a model)."""
    cfg = resolve(config, overrides, **keys)
    return train_method(cfg, _dirs(cfg, data_dir), Path(out), show_progress=False)


def load(run_dir: str | Path) -> TrainedRun:
    """A finished training folder (one method's) as a TrainedRun."""
    return load_trained(Path(run_dir))


__all__ = ["load", "resolve", "run", "train_one"]
