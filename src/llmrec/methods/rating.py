"""The conventional rating models as recipes: one stage, train over the run's seeds on the rating split.

`biased-mf` (global mean, biases and a dot product) and `deepfm` (an FM and an MLP over the user,
item and attribute fields the dataset has: age, gender, occupation, genres, year). Their knobs are
their own tables, `[biased-mf]` and `[deepfm]` (the dataclasses beside the models); the optimiser and
early stopping are `[train]` (with `[train_by_model.<name>]`), selecting on validation RMSE.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmrec.config import RunConfig
from llmrec.methods.rating_common import RATING_BASE, check_rating_data, split_of
from llmrec.models import RATING_MODELS
from llmrec.stages import Method, RunContext, Stage, trained
from llmrec.tasks.rating import train_rating_seeds
from llmrec.tasks.rating_data import Fields, attribute_fields


def train_stage(ctx: RunContext, method: Method) -> None:
    """Train the method's rating model over the run's seeds (reusing finished ones)."""
    split = split_of(ctx)
    model = method.name
    fields = attribute_fields(ctx.prepared.dataset, split) if model == "deepfm" else Fields()
    cfg = ctx.method_cfg(method.name, None)
    seeds = [ctx.cfg.seed + i for i in range(ctx.cfg.seeds)]
    run = train_rating_seeds(
        method.name,
        model,
        method.config(ctx.cfg),
        cfg.train,
        split,
        fields,
        ctx.model_dir(method.name),
        seeds,
        cfg.train.metric,
        extra={"dataset": ctx.cfg.data.dataset},
    )
    ctx.trained[method.name] = ctx.values[trained(method.name)] = run


def _check(cfg: RunConfig, methods: Sequence[Method]) -> None:
    check_rating_data(cfg)


def rating_baseline(name: str, summary: str, paper: str) -> Method:
    """A conventional rating method that trains the rating model of the same name."""
    stage = Stage(
        "train",
        "train over the seeds on the rating split, select on validation RMSE, test once",
        train_stage,
        produces=(trained(name), RATING_BASE),
    )
    return Method(
        name,
        summary,
        paper,
        (stage,),
        baseline=True,
        section=RATING_MODELS[name].config,
        evaluation="rating",
        task="rating",
        check=_check,
    )


RATING_BASELINES = (
    rating_baseline(
        "biased-mf", "biased matrix factorisation on explicit ratings (MSE)", "Koren et al., 2009"
    ),
    rating_baseline(
        "deepfm",
        "DeepFM on explicit ratings: FM + MLP over user, item and attribute fields",
        "Guo et al., IJCAI 2017",
    ),
)

__all__ = ["RATING_BASELINES", "rating_baseline", "train_stage"]
