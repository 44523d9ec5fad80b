"""Llama4Rec (Luo et al., arXiv 2401.13870), direct recommendation, as a recipe (docs/llama4rec.md).

Stages: "pairs" (the reranker judges item pairs among the base model's candidates), "retrain" (the
base model trained again on its data plus the winners, a row of its own: `llama4rec-base`), both
only with `[llama4rec] augment_base = true`; and "rerank": for every seed of the base model, the
reranker (an LLM, or the labelled no-LLM reranker) orders each user's candidates, the two orders are
aggregated per user by the long-tail coefficient with (alpha1, alpha2) chosen on validation, and the
merged lists (candidates first, then the base ranking) are scored with every other model's metrics.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np

from llmrec import config as cfgmod
from llmrec.atomic import atomic_write, write_json
from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.evaluate import group_means, over_seeds
from llmrec.experiment import TrainedRun, train_seeds
from llmrec.factory import model_capabilities
from llmrec.features import AugmentedInputs
from llmrec.models import SideFeatures
from llmrec.rerank import (
    Llama4RecConfig,
    RerankResult,
    choose_alpha,
    conventional_top,
    evaluate_lists,
    pair_augmentation,
    rerank_users,
)
from llmrec.rerank.adapter import model_values
from llmrec.rerank.evaluation import mean_of
from llmrec.rerank.side import RerankSide
from llmrec.rundir import load_item_meta
from llmrec.stages import BASE, Method, RunContext, Scored, Stage, Variant, saved_metrics, trained
from llmrec.train import fit_edges

NAME, AUGMENTED_BASE = "llama4rec", "llama4rec-base"
PAIRS = "llama4rec.pairs"  # the artefact: (u, i+, i-) triples from the reranker's pair choices
RETRAINED = "llama4rec.base"  # the artefact: the base model retrained on them
LLM_FIELDS = ("backend", "model", "base_url", "temperature", "max_tokens")  # what changes answers


def _section(ctx: RunContext, method: Method) -> Llama4RecConfig:
    """[llama4rec], with the run's metric cut-offs and activity groups added to what it reports."""
    section: Llama4RecConfig = method.config(ctx.cfg)
    ks = tuple(sorted({*section.ks, *ctx.cfg.eval.ks}))
    return dataclasses.replace(section, ks=ks, activity_groups=ctx.cfg.eval.activity_groups)


def _base(ctx: RunContext, section: Llama4RecConfig) -> TrainedRun:
    """The conventional model to rerank: the named baseline, or the best on validation."""
    base = ctx.base(section.base)
    if not model_capabilities(base.cfg.model.name).embeddings:
        raise ConfigError(
            f"llama4rec: base {base.name} has no user embeddings to find similar users with; "
            'name a baseline that has (llama4rec.base = "lightgcn", for one)'
        )
    return base


def _side(ctx: RunContext, reranker: str, base: TrainedRun, stack: ExitStack) -> RerankSide:
    """Item texts, their vectors or the LLM for one stage (closed with `stack`)."""
    meta = load_item_meta(base.out)
    records = None if meta is None else meta.to_dict("records")
    ids = base.split.train.item_ids.tolist()
    cfg = ctx.cfg
    return RerankSide(
        records, ids, reranker, cfg.llm, cfg.augment, ctx.env, stack, NAME, base.out, short=False
    )


def pairs_stage(ctx: RunContext, method: Method) -> None:
    """The reranker's choice between two of each user's candidates, as (u, i+, i-) triples."""
    section = _section(ctx, method)
    base = _base(ctx, section)
    split = base.split
    with ExitStack() as stack:
        side = _side(ctx, section.reranker, base, stack)
        score, _ = model_values(base.model(), base.graph)
        candidates = conventional_top(score, split.train.user_items, section.n_candidates)
        stats = side.accounting.stage("llama4rec.pairs")
        result = pair_augmentation(
            split.train, candidates, section, side.texts, side.llm, side.vectors, stats
        )
    out = ctx.root / NAME
    users, pos, neg = result.triples()
    atomic_write(out / "pairs.npz", lambda f: np.savez(f, user=users, pos=pos, neg=neg), binary=True)
    audit = {"teacher": result.teacher, "base": base.name, **result.audit, "samples": result.samples,
             "llm_usage": side.accounting.to_dict()["total"]}  # fmt: skip
    write_json(out / "pairs_audit.json", audit)
    ctx.values[PAIRS] = (result.triples(), audit)


def retrain_stage(ctx: RunContext, method: Method) -> None:
    """The base model trained again, on its training data plus the pair triples (`llama4rec-base`)."""
    section = _section(ctx, method)
    base = _base(ctx, section)
    triples, audit = ctx.values[PAIRS]
    sources = {"pairs": len(triples[0]), "teacher": audit["teacher"], "base": base.name}
    inputs = AugmentedInputs(SideFeatures(), triples, sources)
    cfg = ctx.method_cfg(base.name)
    run = train_seeds(
        cfg, ctx.prepared, ctx.root / AUGMENTED_BASE, name=AUGMENTED_BASE, inputs=inputs,
        show_progress=ctx.show_progress,
    )  # fmt: skip
    ctx.trained[AUGMENTED_BASE] = ctx.values[RETRAINED] = run


def rerank_stage(ctx: RunContext, method: Method) -> None:
    """Every seed of the base model reranked and aggregated; metrics.json in OUT/llama4rec."""
    section = _section(ctx, method)
    base = ctx.values[RETRAINED] if section.augment_base else _base(ctx, section)
    out = ctx.model_dir(NAME)
    llm = {k: getattr(ctx.cfg.llm, k) for k in LLM_FIELDS} if section.reranker == "llm" else None
    key = cfgmod.fingerprint(base.metrics["fingerprint"], cfgmod.to_dict(section), llm, ctx.cfg.eval.ks)
    saved = saved_metrics(out, key)
    if saved is None:
        start = time.perf_counter()
        with ExitStack() as stack:
            side = _side(ctx, section.reranker, base, stack)
            runs = [_rerank_seed(section, base, seed, side) for seed in base.seeds]
            usage, teacher = side.accounting.to_dict(), side.teacher()
        saved = _metrics(ctx, base, runs, time.perf_counter() - start)
        saved.update(fingerprint=key, reranker=teacher, llm_usage=usage["total"])
        write_json(out / "metrics.json", saved)
    ctx.trained[NAME] = ctx.values[trained(NAME)] = Scored(NAME, saved)
    ctx.notes.setdefault("rerankers", {})[NAME] = {"base": base.name, "reranker": saved["reranker"]}


def _rerank_seed(section: Llama4RecConfig, base: TrainedRun, seed: int, side: RerankSide) -> dict[str, Any]:
    """One seed: rerank for validation, choose alpha there, rerank for test, score the merged lists."""
    split = base.split
    train = split.train
    known = train.with_matrix(fit_edges(train.user_items, split.valid, True))  # what a user has at test
    n_train = np.diff(train.user_items.indptr)
    stats = side.accounting.stage("llama4rec.rerank")
    score, emb = model_values(base.model(seed), base.graph)
    top = conventional_top(score, train.user_items, section.list_length)
    on_valid = rerank_users(train, top, emb, section, side.texts, side.llm, side.vectors, stats)
    pick, alpha = _choose(on_valid, split.valid, n_train, section)
    valid = mean_of(evaluate_lists(on_valid.lists(n_train, *alpha, pick), split.valid, section.ks)[1])
    score, emb = model_values(base.test_model(seed), base.test_graph)
    top = conventional_top(score, known.user_items, section.list_length)
    on_test = rerank_users(known, top, emb, section, side.texts, side.llm, side.vectors, stats)
    users, values = evaluate_lists(on_test.lists(n_train, *alpha, pick), split.test, section.ks)
    return {
        "seed": seed,
        "valid": valid,
        "test": mean_of(values),
        "test_by_activity": group_means(users, values, n_train, section.activity_groups),
        "alpha": {"alpha1": alpha[0], "alpha2": alpha[1], "aggregation": section.aggregation},
        "audit": {"valid": on_valid.audit, "test": on_test.audit},
        "samples": on_test.samples,
    }


def _choose(
    result: RerankResult, valid: Any, n_train: np.ndarray, section: Llama4RecConfig
) -> tuple[Llama4RecConfig, tuple[float, float]]:
    """(alpha1, alpha2) by the aggregation: chosen on validation over the grid (adaptive: both; fixed:
    alpha1 alone, the same for every user), or the reranker's order (1, 1), or the base order (0, 0)."""
    if section.aggregation == "llm":
        return dataclasses.replace(section, alpha_cutoff="inside"), (1.0, 1.0)
    if section.aggregation == "base":
        return section, (0.0, 0.0)
    if section.aggregation == "fixed":  # alpha_u = alpha1 * max(depth, 1) = alpha1 for everyone
        pick = dataclasses.replace(section, alpha_cutoff="inside")
        best = max(
            (_valid_score(result, valid, n_train, pick, a1), a1) for a1 in reversed(section.alpha_grid)
        )
        return pick, (best[1], 1.0)
    choice = choose_alpha(result.candidates, result.order, result.base_top, valid, n_train, section)
    return section, (choice.alpha1, choice.alpha2)


def _valid_score(
    result: RerankResult, valid: Any, n_train: np.ndarray, cfg: Llama4RecConfig, a1: float
) -> float:
    """The validation metric of one fixed alpha."""
    k = int(cfg.select_metric.partition("@")[2])
    _, values = evaluate_lists(result.lists(n_train, a1, 1.0, cfg), valid, [k])
    return float(values[cfg.select_metric].mean(dtype=np.float64))


def _metrics(ctx: RunContext, base: TrainedRun, runs: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """metrics.json in the shape every trained method writes, plus what the base and reranker were."""
    return {
        "dataset": ctx.cfg.data.dataset,
        "model": NAME,
        "base": base.name,
        "seeds": [r["seed"] for r in runs],
        **over_seeds(runs),
        "runs": runs,
        "train_seconds": seconds,
        "split": base.metrics.get("split", {}),
        "config": cfgmod.to_dict(ctx.cfg),
    }




def _no_pairs(cfg: RunConfig) -> str | None:
    """Why the pair stages are not needed: mutual augmentation is off."""
    on = cfg.sections.get(NAME, {}).get("augment_base", False)
    return None if on else "llama4rec.augment_base is off (the base model is reranked as trained)"


def switches(cfg: RunConfig) -> dict[str, bool]:
    """Which parts a config has on, for ablation rows."""
    section = cfgmod.from_dict(Llama4RecConfig, cfg.sections.get(NAME, {}), NAME)
    return {
        "adaptive": section.aggregation == "adaptive",
        "aggregation": section.aggregation in ("adaptive", "fixed"),
        "similar-user": section.similar_items > 0,
        "pair-augmentation": section.augment_base,
    }


def check(cfg: RunConfig, methods: Sequence[Method]) -> None:
    """A named base must be a baseline of the run, with user embeddings (for the similar user)."""
    section = cfgmod.from_dict(Llama4RecConfig, cfg.sections.get(NAME, {}), NAME)
    baselines = [m.name for m in methods if m.baseline]
    if section.base and section.base not in baselines:
        raise ConfigError(
            f"llama4rec.base: {section.base!r} is not a baseline of this run; baselines: {baselines}"
        )
    if section.base and not model_capabilities(section.base).embeddings:
        raise ConfigError(f"llama4rec.base: {section.base} has no user embeddings to find similar users with")


LLAMA4REC = Method(
    name=NAME,
    summary="LLM reranking of a conventional model's candidates, aggregated per user by the long tail",
    paper="Luo et al., arXiv 2401.13870",
    section=Llama4RecConfig,
    evaluation="rerank",
    stages=(
        Stage(
            "pairs",
            "the reranker picks one of two candidates per user: (u, i+, i-) triples",
            pairs_stage,
            consumes=(BASE,),
            produces=(PAIRS,),
            skip=_no_pairs,
        ),  # fmt: skip
        Stage(
            "retrain",
            "the base model trained again on its data plus the pair triples",
            retrain_stage,
            consumes=(PAIRS,),
            produces=(RETRAINED, trained(AUGMENTED_BASE)),
            skip=_no_pairs,
        ),  # fmt: skip
        Stage(
            "rerank",
            "the base model's candidates reranked, aggregated, alpha chosen on validation",
            rerank_stage,
            consumes=(BASE,),
            produces=(trained(NAME),),
        ),  # fmt: skip
    ),
    variants=(
        Variant("no-aggregation", "the reranker's order alone", {"llama4rec.aggregation": "llm"}),
        Variant("fixed-alpha", "one alpha for every user", {"llama4rec.aggregation": "fixed"}),
        Variant(
            "no-prompt-augmentation",
            "without the similar user (and, for an LLM, the conventional ranking) in the prompt",
            {
                "llama4rec.similar_items": 0,
                "llama4rec.show_base_ranking": False,
                "llama4rec.local_similar_weight": 0.0,
            },
        ),  # fmt: skip
    ),
    switches=switches,
    check=check,
)

__all__ = ["LLAMA4REC", "NAME"]
