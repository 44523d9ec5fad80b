"""A run, top to bottom: config -> plan -> dataset and split -> each planned stage -> summary and report.

`run` is `llmrec run` (several methods on one split, compared); `train_one` is `llmrec train` (one
method, its models in the run folder itself). Both execute the same plan over one `RunContext`; the
stages are the methods' recipes (`llmrec.methods`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmrec.atomic import write_json
from llmrec.config import RunConfig
from llmrec.experiment import Prepared, prepare
from llmrec.plan import Plan, plan
from llmrec.stages import Result, RunContext
from llmrec.summary import summarise_run

log = logging.getLogger("llmrec")
SUMMARY = "summary.json"


def context(
    the_plan: Plan,
    cfg: RunConfig,
    prepared: Prepared,
    out: Path,
    show_progress: bool | None = None,
    env: Mapping[str, str] | None = None,
    dirs: Sequence[Path] = (),
) -> RunContext:
    """A fresh run context for `the_plan`; `dirs` are the data directories searched."""
    return RunContext(
        cfg,
        prepared,
        out,
        dict(env or {}),
        show_progress,
        flat=the_plan.single,
        baselines=the_plan.baselines,
        data_dirs=tuple(Path(d) for d in dirs),
    )


def execute(the_plan: Plan, ctx: RunContext) -> RunContext:
    """Run every planned stage in order over `ctx`; returns it, filled."""
    for label, why in the_plan.skipped:
        log.info("%s: skipped, %s", label, why)
    for planned in the_plan.stages:
        log.info("%s: %s", planned.label, planned.stage.doc)
        planned.stage.run(ctx, planned.method)
    return ctx


def run(
    cfg: RunConfig,
    dirs: Sequence[Path],
    out: Path,
    show_progress: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`llmrec run`: every method of `cfg.methods` on one split and seed set; then `summary.json` (every
    method's means, stds and paired p-values against the best baseline on validation) and the report.
    `env` supplies the LLM's base URL, model and key variables."""
    the_plan = plan(cfg)
    ctx = execute(the_plan, context(the_plan, cfg, prepare(cfg, dirs), out, show_progress, env, dirs))
    return finish(ctx, the_plan)


def finish(ctx: RunContext, the_plan: Plan) -> dict[str, Any]:
    """Write the report and then `summary.json`, once and atomically; returns the summary."""
    from llmrec.report import write_report  # plotting code loads only at the end

    summary = summarise_run(ctx, the_plan.skipped)
    summary["report"] = [p.name for p in write_report(ctx.root, summary)]
    write_json(ctx.root / SUMMARY, summary)
    return summary


def train_one(cfg: RunConfig, dirs: Sequence[Path], out: Path, show_progress: bool | None = None) -> Result:
    """`llmrec train`: method `cfg.model.name` alone (with the stages it needs that are not given),
    its models written into `out` itself."""
    the_plan = plan(cfg, single=True)
    ctx = execute(the_plan, context(the_plan, cfg, prepare(cfg, dirs), out, show_progress, None, dirs))
    return ctx.trained[the_plan.methods[0].name]


__all__ = ["SUMMARY", "context", "execute", "finish", "run", "train_one"]
