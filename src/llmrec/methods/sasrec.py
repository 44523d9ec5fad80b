"""SASRec (Kang & McAuley, ICDM 2018) as a baseline recipe: one stage, train on time-ordered histories.

It needs the run's split to be `loo`: the sequential split (`llmrec.data.sequences`) holds out the
same items, which this stage checks, so a popularity or BPR baseline of the same run is compared on
the same validation and test items.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.stages import Method, RunContext, Stage, trained
from llmrec.tasks.sequential import sequences_of, train_sequential

NAME = "sasrec"


def train_stage(ctx: RunContext, method: Method) -> None:
    """Train SASRec over the run's seeds on the training sequences (reusing saved seeds)."""
    cfg = ctx.method_cfg(method.name, method.model)
    split = sequences_of(ctx.values, ctx.prepared)
    run = train_sequential(cfg, split, ctx.prepared.dataset, ctx.model_dir(method.name), name=method.name)
    ctx.trained[method.name] = ctx.values[trained(method.name)] = run
    ctx.notes.setdefault("sequential", {})["split"] = {"notes": split.notes(), "counts": split.counts}


def check(cfg: RunConfig, methods: Sequence[Method]) -> None:
    """Sequential recommendation is evaluated leave-one-out on time-ordered histories."""
    if cfg.split.method != "loo":
        raise ConfigError(
            f"{NAME}: sequential recommendation holds out each user's last two items in time; set "
            f'[split] method = "loo" (got {cfg.split.method!r}) so the run\'s other methods share them'
        )


SASREC = Method(
    name=NAME,
    summary="SASRec: causal self-attention over each user's time-ordered items (sequential task)",
    paper="Kang & McAuley, ICDM 2018",
    stages=(
        Stage(
            "train",
            "train on time-ordered histories over the seeds, select on validation, test once",
            train_stage,
            produces=(trained(NAME),),
        ),
    ),
    model=NAME,
    baseline=True,
    check=check,
)

__all__ = ["NAME", "SASREC"]
