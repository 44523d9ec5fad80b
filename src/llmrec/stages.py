"""The stage interface: a method is a recipe of stages run over one in-memory `RunContext`.

Stages hand each other values in memory (the split, trained models with the graphs they trained on,
augmentations); the run folder is the fingerprinted cache that makes a rerun cheap, and what the
CLI's subcommands load from. A stage declares the artefacts it consumes and produces, so the planner
(`plan.py`) can order stages and refuse, before any data loads, a run that asks for something no stage
makes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.experiment import Prepared, TrainedRun
from llmrec.significance import higher_is_better

BASE = "base"  # the artefact every baseline's training feeds: the best conventional model on validation
AUGMENTATION = "llmrec.augmentation"  # the artefact an augment stage leaves: a finished augmentation folder
AUGMENT_DIR = "augment"  # where a run keeps its augmentation: OUT/augment


def trained(name: str) -> str:
    """The artefact a method's training produces: its `TrainedRun`."""
    return f"trained:{name}"


class Result(Protocol):
    """What a method's run leaves for the summary and report: its name and metrics.json content
    (`TrainedRun` for trained models; a reranker's result has no model of its own)."""

    name: str
    metrics: dict[str, Any]

    def valid_score(self, metric: str) -> float:
        """Its mean validation `metric`."""
        ...


@dataclass
class RunContext:
    """Everything the stages of one run read and add to.

    `root` is the run folder; with `flat` a method's models go into `root` itself (`llmrec train`, and
    an ablation variant's folder), else into `root/<method>`. `values` holds the artefacts stages
    produce, by name (e.g. "llmrec.augmentation"); `trained` the trained methods in the order they
    ran; `notes` what stages add to summary.json (an augmentation's audit, its teacher).
    """

    cfg: RunConfig
    prepared: Prepared
    root: Path
    env: Mapping[str, str] = field(default_factory=dict)
    show_progress: bool | None = None
    flat: bool = False
    baselines: tuple[str, ...] = ()  # the run's conventional methods, candidates for BASE
    data_dirs: tuple[Path, ...] = ()  # where the dataset was looked for; methods find their files there
    trained: dict[str, Result] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def method_cfg(self, name: str, model: str | None = None) -> RunConfig:
        """The run config as method `name` trains: `model.name` set (default: the method's own name)
        and its `[train_by_model.<name>]` keys applied."""
        return cfgmod.for_model(self.cfg, name, model)

    def model_dir(self, name: str) -> Path:
        """Where method `name` keeps its trained models."""
        return self.root if self.flat else self.root / name

    def base(self, name: str = "") -> TrainedRun:
        """The baseline `name`, else the one `augment.base_model` names, else the best on validation:
        the one rule every stage that builds on a conventional model uses."""
        name = (
            name
            or self.cfg.augment.base_model
            or best_of(
                {n: self.trained[n] for n in self.baselines if n in self.trained}, self.cfg.train.metric
            )
        )
        run = self.trained.get(name)
        if name not in self.baselines or not isinstance(run, TrainedRun):
            known = list(self.baselines)
            raise ConfigError(
                f"base model {name!r} is not a trained baseline of this run; baselines: {known}"
            )
        return run

    def base_reason(self, name: str = "") -> str:
        """Why `base(name)` is the base, for audits."""
        if name or self.cfg.augment.base_model:
            return "named in the config"
        metric = self.cfg.train.metric
        base = self.base()
        return f"best validation {metric} ({base.valid_score(metric):.4f}) of {list(self.baselines)}"


@dataclass
class Scored:
    """A method's result that is only its metrics (a rerank of another model's lists), as summary.json
    reads any method's."""

    name: str
    metrics: dict[str, Any]

    def valid_score(self, metric: str) -> float:
        """Its mean validation `metric`."""
        return float(self.metrics["valid"].get(metric, float("-inf")))


def saved_metrics(out: Path, key: str) -> dict[str, Any] | None:
    """`out/metrics.json` when it was written for the same inputs and settings (its `fingerprint` is
    `key`), else None: a finished stage is reused, a changed one is redone."""
    path = out / "metrics.json"
    if not path.is_file():
        return None
    saved: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return saved if saved.get("fingerprint") == key else None


def best_of(runs: Mapping[str, Result], metric: str) -> str:
    """The run with the best mean validation `metric` (ties: the later name): one rule everywhere.
    Best is the highest value, or the lowest for an error such as the rating task's RMSE."""
    if not runs:
        raise ConfigError("no trained baseline to choose from: add a conventional method to `methods`")
    sign = 1.0 if higher_is_better(metric) else -1.0
    return max(runs, key=lambda n: (sign * runs[n].valid_score(metric), n))


StageFn = Callable[[RunContext, "Method"], None]


@dataclass(frozen=True)
class Stage:
    """One step of a method: what it reads and makes, and the function that does it.

    `skip` returns why the stage is not needed under a config (e.g. its artefact is named by a
    folder), or None; a skipped stage's artefacts count as given. `given_by` names the config key
    that does that, for error messages.
    """

    name: str
    doc: str
    run: StageFn
    consumes: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    skip: Callable[[RunConfig], str | None] | None = None
    given_by: str = ""


@dataclass(frozen=True)
class Variant:
    """One ablation row of a method: its name, what it shows, the config keys it changes, and which of
    the method's stages it runs again (default: the last)."""

    name: str
    label: str
    changes: Mapping[str, Any]
    stages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Method:
    """A recipe: a method's config table, stages, the model it trains and how it is evaluated.

    `baseline` methods are the conventional models a run compares against and builds on (BASE).
    `section` is the dataclass of its own `[<name>]` table (None: it has none). `switches` says
    which of its parts a config has on, for ablation rows.
    """

    name: str
    summary: str
    paper: str
    stages: tuple[Stage, ...]
    model: str | None = None
    baseline: bool = False
    section: type[Any] | None = None
    evaluation: str = "full-ranking"  # full-ranking: every item scored | rerank: a candidate list reordered
    task: str = "ranking"  # ranking: top-K lists (recall, NDCG...) | rating: explicit ratings (RMSE, MAE)
    variants: tuple[Variant, ...] = ()
    switches: Callable[[RunConfig], dict[str, bool]] | None = None
    # checks of its settings against the run's other methods, called by the planner before data loads
    check: Callable[[RunConfig, Sequence[Method]], None] | None = None

    def stage(self, name: str) -> Stage:
        """One of its stages, or ConfigError listing them."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ConfigError(
            f"method {self.name} has no stage {name!r}; its stages: {[s.name for s in self.stages]}"
        )

    def config(self, cfg: RunConfig) -> Any:
        """Its typed `[<name>]` table from `cfg` (defaults where unset); None for a method without one."""
        if self.section is None:
            if self.name in cfg.sections:
                raise ConfigError(f"[{self.name}]: method {self.name} has no settings of its own")
            return None
        return cfgmod.from_dict(self.section, cfg.sections.get(self.name, {}), self.name)


__all__ = [
    "AUGMENTATION", "AUGMENT_DIR", "BASE", "Method", "Result", "RunContext", "Stage", "StageFn", "Variant",
    "best_of", "trained",
]  # fmt: skip
