"""Llama4Rec (Luo et al., arXiv 2401.13870), rating prediction, as a recipe (docs/llama4rec.md).

Stages: "attributes" (each item's director and star: from the dataset's metadata, the labelled
no-LLM teacher, or with an LLM filling what the metadata lacks), "retrain" (DeepFM with them as two
more fields, a row of its own: `llama4rec-rating-base`, knobs from `[deepfm]`, schedule from
`[train_by_model.deepfm]`), and "aggregate": for every seed, a rater (an LLM given the user's ratings,
the item and DeepFM's prediction; or the labelled no-LLM content-neighbour rater) rates each
validation and test pair, and r = alpha_u r_rater + (1 - alpha_u) r_DeepFM with alpha_u from the
long-tail coefficient, (alpha1, alpha2) chosen on validation RMSE.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmrec import config as cfgmod
from llmrec.atomic import write_json
from llmrec.augment.prompts import item_line, item_noun
from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.evaluate import over_seeds
from llmrec.llm import Accounting, CachedLLM, open_llm, resolve_llm_config
from llmrec.methods.rating_common import check_rating_data, split_of
from llmrec.models import DeepFMConfig
from llmrec.rerank.config import ALPHA_GRID, CUTOFFS
from llmrec.significance import paired_p_values
from llmrec.stages import Method, RunContext, Stage, Variant, trained
from llmrec.tasks.rating import RatingRun, rating_metrics, train_rating_seeds
from llmrec.tasks.rating_attributes import (
    ATTRIBUTES,
    FilledAttributes,
    dataset_attributes,
    llm_attributes,
    text_records,
)
from llmrec.tasks.rating_data import attribute_fields
from llmrec.tasks.rating_llm import (
    LOCAL_RATER,
    Rated,
    aggregate_ratings,
    choose_alpha,
    item_vectors,
    llm_ratings,
    local_ratings,
)

NAME, BASE_ROW = "llama4rec-rating", "llama4rec-rating-base"
FILLED = "llama4rec-rating.attributes"  # the artefact: director and star per item, with sources
RETRAINED = "llama4rec-rating.base"  # the artefact: DeepFM trained with them as fields
AGGREGATIONS = ("adaptive", "fixed", "rater", "model")


@dataclass(frozen=True)
class Llama4RecRatingConfig:
    """[llama4rec-rating]: who fills attributes, who rates, how ratings merge, prompts, the local rater."""

    attributes: str = "dataset"  # dataset: the metadata files (no-LLM teacher, labelled) | llm: + LLM fills
    rater: str = "local"  # local: content neighbours (no-LLM, labelled) | llm: the [llm] model
    # adaptive: alpha_u from the long-tail coefficient | fixed: alpha1 for all | rater | model: one alone
    aggregation: str = "adaptive"
    alpha_grid: tuple[float, ...] = ALPHA_GRID  # alpha1 and alpha2 chosen from it on validation RMSE
    alpha_cutoff: str = (
        "inside"  # as in [llama4rec]: alpha1 * max(depth, alpha2) | max(alpha1 * depth, alpha2)
    )
    history_items: int = 20  # of the user's training ratings shown in a prompt (a seeded sample)
    show_prediction: bool = True  # prompt augmentation: DeepFM's prediction in the prompt
    neighbours: int = 20  # local rater: the user's most similar rated items
    shrinkage: float = 2.0  # local rater: weight of DeepFM's prediction against the neighbours'
    seed: int = 2024  # history samples in prompts
    audit_samples: int = 5

    def __post_init__(self) -> None:
        choices = {
            "attributes": ("dataset", "llm"),
            "rater": ("local", "llm"),
            "aggregation": AGGREGATIONS,
            "alpha_cutoff": CUTOFFS,
        }
        for key, valid in choices.items():
            if getattr(self, key) not in valid:
                raise ConfigError(f"{NAME}.{key}: {getattr(self, key)!r} is not one of {list(valid)}")
        if not self.alpha_grid or any(not 0 <= a <= 1 for a in self.alpha_grid):
            raise ConfigError(
                f"{NAME}.alpha_grid: values in [0, 1], at least one; got {list(self.alpha_grid)}"
            )
        if self.history_items < 1 or self.neighbours < 1 or self.shrinkage < 0:
            raise ConfigError(f"{NAME}: history_items and neighbours must be >= 1 and shrinkage >= 0")


def _open_llm(ctx: RunContext, stack: ExitStack) -> CachedLLM:
    """The run's LLM behind its cache, closed with the stage."""
    llm = open_llm(resolve_llm_config(ctx.cfg.llm, ctx.env), ctx.env)
    stack.callback(llm.close)
    return llm


def attributes_stage(ctx: RunContext, method: Method) -> None:
    """Director and star of every item: the metadata's, and the LLM's where it lacks them."""
    section: Llama4RecRatingConfig = method.config(ctx.cfg)
    ds = ctx.prepared.dataset
    accounting = Accounting(ctx.cfg.llm.prices)
    if section.attributes == "llm":
        if ds.item_meta is None:
            raise ConfigError(f"{NAME}.attributes = 'llm' needs item titles; {ds.name} has no item metadata")
        with ExitStack() as stack:
            llm = _open_llm(ctx, stack)
            filled = llm_attributes(
                llm,
                ds.item_meta,
                ds.item_ids.tolist(),
                accounting.stage("rating.attributes"),
                item_noun(ds.name),
                section.audit_samples,
            )
    else:
        filled = dataset_attributes(ds.item_meta, ds.n_items)
    filled.audit["coverage"] = filled.coverage()
    filled.audit["llm_usage"] = accounting.to_dict()["total"]
    out = ctx.root / NAME
    ids = [str(x) for x in ds.item_ids.tolist()]  # values by the dataset's own item ids
    write_json(
        out / "attributes.json",
        {
            **filled.audit,
            "samples": filled.samples,
            "values": {n: dict(zip(ids, vs, strict=True)) for n, vs in filled.values.items()},
            "sources": {n: dict(zip(ids, vs, strict=True)) for n, vs in filled.sources.items()},
        },
    )
    ctx.values[FILLED] = filled
    ctx.notes.setdefault("rating_attributes", {})[NAME] = {
        k: filled.audit[k] for k in ("teacher", "coverage")
    }


def retrain_stage(ctx: RunContext, method: Method) -> None:
    """DeepFM with the attribute fields plus director and star: the row `llama4rec-rating-base`."""
    filled: FilledAttributes = ctx.values[FILLED]
    split = split_of(ctx)
    fields = attribute_fields(ctx.prepared.dataset, split, {n: filled.values[n] for n in ATTRIBUTES})
    options = cfgmod.from_dict(DeepFMConfig, ctx.cfg.sections.get("deepfm", {}), "deepfm")
    cfg = ctx.method_cfg("deepfm", None)
    seeds = [ctx.cfg.seed + i for i in range(ctx.cfg.seeds)]
    extra = {"dataset": ctx.cfg.data.dataset, "attributes_teacher": filled.audit["teacher"]}
    run = train_rating_seeds(
        BASE_ROW,
        "deepfm",
        options,
        cfg.train,
        split,
        fields,
        ctx.root / BASE_ROW,
        seeds,
        cfg.train.metric,
        extra=extra,
    )
    ctx.trained[BASE_ROW] = ctx.values[RETRAINED] = ctx.values[trained(BASE_ROW)] = run


def aggregate_stage(ctx: RunContext, method: Method) -> None:
    """Every seed of the retrained DeepFM rated again by the rater and merged; metrics.json."""
    section: Llama4RecRatingConfig = method.config(ctx.cfg)
    base: RatingRun = ctx.values[RETRAINED]
    filled: FilledAttributes = ctx.values[FILLED]
    split = split_of(ctx)
    ds = ctx.prepared.dataset
    start = time.perf_counter()
    accounting = Accounting(ctx.cfg.llm.prices)
    runs = []
    with ExitStack() as stack:
        llm = _open_llm(ctx, stack) if section.rater == "llm" else None
        texts = _item_texts(ds.item_meta, ds.item_ids.tolist(), filled)
        vectors = item_vectors(_content(ds.item_meta, filled), ds.n_items)
        for seed in base.seeds:
            preds = base.predictions[seed]
            rated = []
            for part, name in ((split.valid, "valid"), (split.test, "test")):
                if llm is None:
                    r = local_ratings(
                        part, preds[name], split.train, vectors, section.neighbours, section.shrinkage
                    )
                else:
                    r = llm_ratings(
                        llm,
                        part,
                        preds[name],
                        split.train,
                        texts,
                        split.scale,
                        history_items=section.history_items,
                        show_prediction=section.show_prediction,
                        seed=section.seed,
                        stats=accounting.stage("rating.rate"),
                        samples=section.audit_samples,
                        noun=item_noun(ds.name),
                    )
                rated.append(r)
            runs.append(_merge_seed(seed, section, split, preds, rated))
    teacher = (
        LOCAL_RATER
        if section.rater == "local"
        else {"kind": "llm", "backend": ctx.cfg.llm.backend, "model": ctx.cfg.llm.model}
    )
    metrics = {
        "dataset": ctx.cfg.data.dataset,
        "model": NAME,
        "task": "rating",
        "base": BASE_ROW,
        "seeds": [r["seed"] for r in runs],
        **over_seeds(runs),
        "runs": runs,
        "train_seconds": time.perf_counter() - start,
        "split": split.describe(),
        "rater": teacher,
        "attributes_teacher": filled.audit["teacher"],
        "llm_usage": accounting.to_dict()["total"],
        "config": cfgmod.to_dict(ctx.cfg),
    }
    out = ctx.model_dir(NAME)
    write_json(out / "metrics.json", metrics)
    run = RatingRun(NAME, out, metrics, {})
    ctx.trained[NAME] = ctx.values[trained(NAME)] = run
    ctx.notes.setdefault("raters", {})[NAME] = {"base": BASE_ROW, "rater": teacher}
    _pair(ctx, NAME, BASE_ROW)  # what the rater adds
    _pair(ctx, BASE_ROW, "deepfm")  # what director and star add, where DeepFM ran alongside


def _pair(ctx: RunContext, name: str, reference: str) -> None:
    """Paired p-values over seeds of `name` against `reference` (both run), into summary.json's notes."""
    if name not in ctx.trained or reference not in ctx.trained:
        return
    runs, ref = ctx.trained[name].metrics["runs"], ctx.trained[reference].metrics["runs"]
    if [r["seed"] for r in runs] != [r["seed"] for r in ref]:
        return
    p = paired_p_values([r["test"] for r in runs], [r["test"] for r in ref], ctx.cfg.eval.significance)
    ctx.notes.setdefault("paired", {})[f"{name} vs {reference}"] = {
        "p_value": p,
        "test": ctx.cfg.eval.significance,
    }


def _merge_seed(
    seed: int, section: Llama4RecRatingConfig, split: Any, preds: dict[str, np.ndarray], rated: list[Rated]
) -> dict[str, Any]:
    """One seed: alpha chosen on validation, the merged test ratings scored, the audit kept."""
    on_valid, on_test = rated
    n_train = split.n_train
    adaptive = section.aggregation == "adaptive"
    if section.aggregation in ("adaptive", "fixed"):
        a1, a2, _ = choose_alpha(
            preds["valid"],
            on_valid.ratings,
            split.valid,
            n_train,
            section.alpha_grid,
            section.alpha_cutoff,
            adaptive,
        )
    else:
        a1, a2, adaptive = (1.0 if section.aggregation == "rater" else 0.0), 1.0, False

    def merged(part: Any, base: np.ndarray, r: Rated) -> np.ndarray:
        values = aggregate_ratings(
            base, r.ratings, part.users, n_train, a1, a2, section.alpha_cutoff, adaptive
        )
        return np.clip(values, *split.scale)

    return {
        "seed": seed,
        "valid": rating_metrics(merged(split.valid, preds["valid"], on_valid), split.valid.ratings),
        "test": rating_metrics(merged(split.test, preds["test"], on_test), split.test.ratings),
        "rater_alone_test": rating_metrics(np.clip(on_test.ratings, *split.scale), split.test.ratings),
        "alpha": {"alpha1": a1, "alpha2": a2, "aggregation": section.aggregation},
        "audit": {"valid": on_valid.audit, "test": on_test.audit},
        "samples": on_test.samples,
    }


def _item_texts(meta: Any, ids: Sequence[object], filled: FilledAttributes) -> list[str]:
    """Each item as one prompt line: title (year), genres; director; star."""
    records = text_records(meta, len(ids))
    lines = []
    for i, record in enumerate(records):
        shown = {k: record.get(k, "") for k in ("title", "year", "genres")}
        shown.update({n: filled.values[n][i] or "" for n in ATTRIBUTES})
        lines.append(item_line(shown, str(ids[i]), 30))
    return lines


def _content(meta: Any, filled: FilledAttributes) -> dict[str, list[list[str]]]:
    """Attribute values per item for the local rater's similarity: genres, decade, director, cast."""
    n = len(filled.values[ATTRIBUTES[0]])
    records = text_records(meta, n)
    genres = [[g for g in r.get("genres", "").split("|") if g and g != "unknown"] for r in records]
    decade = [[r["year"][:3]] if r.get("year", "")[:3].isdigit() else [] for r in records]
    cast = [[c.strip() for c in r.get("cast", "").split(",")[:5] if c.strip()] for r in records]
    director = [[d] if d else [] for d in filled.values["director"]]
    stars = [[s] if s else [] for s in filled.values["star"]]
    return {"genre": genres, "decade": decade, "director": director, "cast": cast, "star": stars}


def switches(cfg: RunConfig) -> dict[str, bool]:
    """Which parts a config has on, for ablation rows."""
    section = cfgmod.from_dict(Llama4RecRatingConfig, cfg.sections.get(NAME, {}), NAME)
    return {
        "adaptive": section.aggregation == "adaptive",
        "aggregation": section.aggregation in ("adaptive", "fixed"),
        # the no-LLM rater reads no prompt: the switch is on only where a prompt carries it
        "prediction-in-prompt": section.show_prediction and section.rater == "llm",
    }


def _check(cfg: RunConfig, methods: Sequence[Method]) -> None:
    check_rating_data(cfg)
    cfgmod.from_dict(DeepFMConfig, cfg.sections.get("deepfm", {}), "deepfm")


LLAMA4REC_RATING = Method(
    name=NAME,
    summary="DeepFM with LLM-filled attributes, its ratings merged with an LLM's by the long-tail alpha",
    paper="Luo et al., arXiv 2401.13870",
    section=Llama4RecRatingConfig,
    evaluation="rating",
    task="rating",
    stages=(
        Stage(
            "attributes",
            "director and star per item: metadata, or an LLM for what it lacks",
            attributes_stage,
            produces=(FILLED,),
        ),
        Stage(
            "retrain",
            "DeepFM with director and star as fields (row llama4rec-rating-base)",
            retrain_stage,
            consumes=(FILLED,),
            produces=(RETRAINED, trained(BASE_ROW)),
        ),
        Stage(
            "aggregate",
            "a rater's ratings merged with DeepFM's per user, alpha chosen on validation RMSE",
            aggregate_stage,
            consumes=(RETRAINED,),
            produces=(trained(NAME),),
        ),
    ),
    variants=(
        Variant("no-aggregation", "the rater's ratings alone", {f"{NAME}.aggregation": "rater"}),
        Variant("fixed-alpha", "one alpha for every user", {f"{NAME}.aggregation": "fixed"}),
        Variant(
            "no-prompt-augmentation",
            "without DeepFM's prediction in the prompt",
            {f"{NAME}.show_prediction": False},
        ),
    ),
    switches=switches,
    check=_check,
)

__all__ = ["LLAMA4REC_RATING", "NAME", "Llama4RecRatingConfig"]
