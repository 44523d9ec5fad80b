"""The plan of a run: which stages of which methods run, in what order, checked before any data loads.

`plan(cfg)` reads `methods` (entries "NAME" or "NAME:STAGE", the latter stopping after that stage),
checks every setting a stage will read, resolves each consumed artefact to the stages that produce it
and orders the stages so that producers run first. Anything that cannot work (an unknown method or
stage, a knob given to the wrong model, an artefact no stage produces) is a one-line ConfigError here.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.factory import check_model, check_model_tables, model_spec
from llmrec.methods import METHODS, get_method
from llmrec.significance import LOWER_IS_BETTER, TESTS
from llmrec.stages import BASE, Method, Stage
from llmrec.train import check_negatives, check_train_config


@dataclass(frozen=True)
class PlannedStage:
    """One stage of one method, as the plan runs it."""

    method: Method
    stage: Stage

    @property
    def label(self) -> str:
        """ "method:stage"."""
        return f"{self.method.name}:{self.stage.name}"


@dataclass(frozen=True)
class Plan:
    """The stages a run executes, in order; the stages a config made unnecessary, and why."""

    methods: tuple[Method, ...]
    stages: tuple[PlannedStage, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # ("method:stage", why)
    single: bool = False  # `llmrec train`: one method, its models in the run folder itself

    @property
    def baselines(self) -> tuple[str, ...]:
        """The run's conventional methods (what the best-baseline rule chooses among)."""
        return tuple(m.name for m in self.methods if m.baseline)

    def complete(self, method: Method) -> bool:
        """Whether every stage of `method` runs or is given (no "NAME:STAGE" cut-off)."""
        done = {p.stage.name for p in self.stages if p.method is method}
        done |= {label.split(":", 1)[1] for label, _ in self.skipped if label.split(":", 1)[0] == method.name}
        return done == {s.name for s in method.stages}


def parse_entry(entry: str) -> tuple[Method, tuple[Stage, ...]]:
    """A `methods` entry: "NAME" (all its stages) or "NAME:STAGE" (its stages up to STAGE)."""
    name, _, last = entry.partition(":")
    method = get_method(name.strip())
    if not last:
        return method, method.stages
    stage = method.stage(last.strip())
    return method, method.stages[: method.stages.index(stage) + 1]


def plan(cfg: RunConfig, single: bool = False) -> Plan:
    """The checked, ordered plan of `cfg`: `llmrec run` (its `methods`), or with `single` `llmrec
    train` (method `model.name` alone)."""
    entries = [cfg.model.name] if single else list(cfg.methods) or [cfg.model.name]
    parsed = [parse_entry(e) for e in entries]
    names = [m.name for m, _ in parsed]
    if len(set(names)) != len(names):
        raise ConfigError(f"methods: each method once, got {entries}")
    check_config(cfg, [m for m, _ in parsed], single)
    wanted: list[tuple[Method, list[Stage]]] = []
    skipped: list[tuple[str, str]] = []
    given: set[str] = set()
    for method, stages in parsed:
        kept = []
        for stage in stages:
            why = stage.skip(cfg) if stage.skip else None
            if why:
                skipped.append((f"{method.name}:{stage.name}", why))
                given.update(stage.produces)
            else:
                kept.append(stage)
        wanted.append((method, kept))
    ordered = _order(wanted, given)
    return Plan(tuple(m for m, _ in parsed), tuple(ordered), tuple(skipped), single)


def _order(wanted: list[tuple[Method, list[Stage]]], given: set[str]) -> list[PlannedStage]:
    """Stages with every producer of what they consume before them; methods keep their order."""
    producers: dict[str, list[str]] = {}
    for method, stages in wanted:
        for stage in stages:
            for artefact in stage.produces:
                producers.setdefault(artefact, []).append(f"{method.name}:{stage.name}")
    for method, stages in wanted:
        for stage in stages:
            for artefact in stage.consumes:
                if artefact not in producers and artefact not in given:
                    raise ConfigError(_missing(method, stage, artefact))
    done: set[str] = set()
    queues = [list(stages) for _, stages in wanted]
    ordered: list[PlannedStage] = []
    while any(queues):
        progressed = False
        for (method, _), queue in zip(wanted, queues, strict=True):
            while queue and all(set(producers.get(a, [])) <= done for a in queue[0].consumes):
                stage = queue.pop(0)
                ordered.append(PlannedStage(method, stage))
                done.add(f"{method.name}:{stage.name}")
                progressed = True
        if not progressed:
            stuck = [f"{m.name}:{q[0].name}" for (m, _), q in zip(wanted, queues, strict=True) if q]
            raise ConfigError(f"methods: stages {stuck} wait on each other's artefacts")
    return ordered


def _missing(method: Method, stage: Stage, artefact: str) -> str:
    """The error for an artefact no stage of the run produces."""
    if artefact == BASE:
        instead = f", or set {stage.given_by} to skip this stage" if stage.given_by else ""
        return (
            f"{method.name}:{stage.name} builds on the best baseline, and this run trains none: "
            f"add a conventional method to methods (e.g. 'lightgcn'){instead}; baselines: "
            f"{sorted(m.name for m in METHODS.values() if m.baseline)}"
        )
    makers = [f"{m.name}:{s.name}" for m in METHODS.values() for s in m.stages if artefact in s.produces]
    hint = f"; it is made by {makers}" if makers else ""
    return f"{method.name}:{stage.name} needs {artefact!r}, which no stage of this run produces{hint}"


def check_config(cfg: RunConfig, methods: list[Method], single: bool = False) -> None:
    """Fail before loading data on settings that cannot work."""
    if cfg.seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {cfg.seeds}")
    if cfg.eval.significance not in TESTS:
        raise ConfigError(
            f"eval.significance: unknown test {cfg.eval.significance!r}; use one of {list(TESTS)}"
        )
    if cfg.eval.screen not in cfgmod.SCREENS:
        raise ConfigError(f"eval.screen: expected auto, on or off, got {cfg.eval.screen!r}")
    if cfg.eval.activity_groups < 1:
        raise ConfigError(f"eval.activity_groups must be at least 1, got {cfg.eval.activity_groups}")
    check_train_config(cfg.train, cfg.eval)
    check_model_tables(cfg.model)
    for name in cfg.sections:  # every method table is typed, whether or not its method runs
        if name not in METHODS:
            _unknown_table(name)
        get_method(name).config(cfg)
    # `llmrec train` applies only its own method's entry, so a run config's other entries may stay
    in_run = {m.name for m in methods}
    for name in cfg.train_by_model:
        if name not in (set(METHODS) if single else in_run):
            raise ConfigError(f"train_by_model.{name}: not a method of this run; methods: {sorted(in_run)}")
    _check_tasks(cfg, methods)
    for method in methods:
        method.config(cfg)
        if method.check is not None:
            method.check(cfg, methods)
        if method.model is None:
            continue
        mcfg = cfgmod.for_model(cfg, method.name, method.model)
        check_train_config(mcfg.train, mcfg.eval)
        check_model(mcfg, method.model)
        check_negatives(model_spec(method.model).cls, mcfg.train.negatives)
    if single and methods[0].name != "llmrec" and cfg.sections.get("llmrec", {}).get("graph_edges"):
        # before issue 21 this trained any graph model on the augmented graph; now it is LLMRec's own
        raise ConfigError(
            "llmrec.graph_edges applies to method llmrec; to train "
            f'{methods[0].name} on an augmentation\'s liked edges set train.extra_edges = "DIR"'
        )


def _check_tasks(cfg: RunConfig, methods: list[Method]) -> None:
    """One task per run (its metrics differ), and `train.metric` one of that task's metrics."""
    tasks = {m.task for m in methods}
    if len(tasks) > 1:
        by_task = {t: [m.name for m in methods if m.task == t] for t in sorted(tasks)}
        raise ConfigError(f"methods: one task per run, got {by_task}; run each task from its own config")
    rating = tasks == {"rating"}
    if rating != (cfg.train.metric in LOWER_IS_BETTER):
        wanted = f"one of {sorted(LOWER_IS_BETTER)}" if rating else "a ranking metric such as 'recall@20'"
        raise ConfigError(f"train.metric {cfg.train.metric!r}: the {sorted(tasks)} task selects on {wanted}")


def _unknown_table(name: str) -> None:
    """The error for a top-level table that is neither a config section nor a method's."""
    sections = [k for k, v in cfgmod.to_dict(RunConfig()).items() if isinstance(v, dict)]
    own = sorted(m.name for m in METHODS.values() if m.section is not None)
    raise ConfigError(f"[{name}]: unknown table; config sections: {sections}; method tables: {own}")


__all__ = ["Plan", "PlannedStage", "check_config", "parse_entry", "plan"]
