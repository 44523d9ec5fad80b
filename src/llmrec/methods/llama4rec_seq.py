"""Llama4Rec (Luo et al., arXiv 2401.13870), sequential recommendation over SASRec (docs/llama4rec.md).

Stages: "augment" (the teacher picks, among SASRec's top candidates of each user, the item the user
would most likely watch next; it is inserted at a seeded random position of the training sequence),
"retrain" (SASRec trained again on the augmented sequences: a row of its own, `llama4rec-seq-sasrec`),
both only with `augment = true`; and "rerank": for every seed, the teacher reorders SASRec's
candidates from a prompt with the recent history in order, and the two orders are aggregated per
user by the long-tail coefficient with (alpha1, alpha2) chosen on validation, as in the direct task.
The teacher is an LLM, or the labelled no-LLM one (title vectors closest to the last items).
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmrec import config as cfgmod
from llmrec.atomic import atomic_write, write_json
from llmrec.config import RunConfig
from llmrec.data.sequences import padded
from llmrec.errors import ConfigError
from llmrec.evaluate import group_means, mean_metrics, std_metrics
from llmrec.rerank import (
    Llama4RecConfig,
    RerankResult,
    choose_alpha,
    conventional_top,
    evaluate_lists,
)
from llmrec.rerank.evaluation import mean_of
from llmrec.rerank.sequential import insert_picks, pick_next, rerank_sequences
from llmrec.rerank.side import RerankSide
from llmrec.rundir import load_item_meta
from llmrec.seqtrain import sequence_scorer
from llmrec.stages import Method, RunContext, Scored, Stage, Variant, saved_metrics, trained
from llmrec.tasks.sequential import SequentialRun, train_sequential

NAME, BASE_NAME, RETRAINED = "llama4rec-seq", "sasrec", "llama4rec-seq-sasrec"
AUGMENTED = "llama4rec-seq.sequences"  # the artefact: training sequences with the teacher's picks
LLM_FIELDS = ("backend", "model", "base_url", "temperature", "max_tokens")


@dataclass(frozen=True)
class Llama4RecSeqConfig:
    """[llama4rec-seq]: the teacher, augmentation, candidates, prompts and aggregation."""

    reranker: str = "local"  # local: the labelled no-LLM teacher | llm: the [llm] backend
    aggregation: str = "adaptive"  # adaptive | fixed | llm | base, as [llama4rec]
    augment: bool = True  # insert the teacher's pick into each training sequence and retrain SASRec
    pick_candidates: int = 10  # SASRec's top items the teacher picks the next one from
    n_candidates: int = 20  # SASRec's top items the teacher reranks
    history_items: int = 20  # the most recent items shown in a prompt, in order
    recent_items: int = 5  # the no-LLM teacher's "last items": their mean title vector is the target
    shuffle_candidates: bool = True
    show_base_ranking: bool = True
    noun: str = "movie"
    utility: str = "linear"
    alpha_cutoff: str = "inside"
    alpha_grid: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)
    select_metric: str = "ndcg@5"
    ks: tuple[int, ...] = (3, 5, 10)
    seed: int = 2024  # insertion positions, candidate display order, audit samples
    audit_samples: int = 3

    def __post_init__(self) -> None:
        for name in ("pick_candidates", "history_items", "recent_items"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{NAME}.{name}: must be at least 1, got {getattr(self, name)}")
        self.rerank()  # the shared knobs are checked where they are defined

    def rerank(self, ks: tuple[int, ...] = (), groups: int = 4, n: int = 0) -> Llama4RecConfig:
        """The direct task's config for the shared parts (reranking, aggregation, alpha choice)."""
        return Llama4RecConfig(
            reranker=self.reranker, aggregation=self.aggregation, n_candidates=n or self.n_candidates,
            history_items=self.history_items, similar_items=0, shuffle_candidates=self.shuffle_candidates,
            show_base_ranking=self.show_base_ranking, noun=self.noun, utility=self.utility,
            alpha_cutoff=self.alpha_cutoff, alpha_grid=self.alpha_grid, select_metric=self.select_metric,
            ks=tuple(sorted({*self.ks, *ks})), activity_groups=groups, local_similar_weight=0.0,
            seed=self.seed, audit_samples=self.audit_samples,
        )  # fmt: skip


def _side(ctx: RunContext, reranker: str, base: SequentialRun, stack: ExitStack) -> RerankSide:
    """Item texts, their vectors or the LLM for one stage (closed with `stack`)."""
    meta = load_item_meta(base.out)
    records = None if meta is None else meta.to_dict("records")
    ids = base.split.item_ids.tolist()
    cfg = ctx.cfg
    return RerankSide(
        records, ids, reranker, cfg.llm, cfg.augment, ctx.env, stack, NAME, base.out, short=True
    )


def _section(ctx: RunContext, method: Method) -> Llama4RecSeqConfig:
    """[llama4rec-seq] as typed."""
    section: Llama4RecSeqConfig = method.config(ctx.cfg)
    return section


def _base(ctx: RunContext) -> SequentialRun:
    """The trained SASRec of this run."""
    run = ctx.trained.get(BASE_NAME)
    if not isinstance(run, SequentialRun):
        raise ConfigError(f"{NAME} builds on method {BASE_NAME}: add it to methods")
    return run


def augment_stage(ctx: RunContext, method: Method) -> None:
    """The teacher's next-item pick among SASRec's candidates, inserted into each training sequence."""
    section, base = _section(ctx, method), _base(ctx)
    split = base.split
    edges = split.interactions()
    rcfg = section.rerank(n=section.pick_candidates)
    with ExitStack() as stack:
        side = _side(ctx, section.reranker, base, stack)
        score = sequence_scorer(base.model(), padded(split.train, base.max_len))
        top = conventional_top(score, edges.train.user_items, section.pick_candidates)
        stats = side.accounting.stage(f"{NAME}.augment")
        picks = pick_next(
            split.train, top, rcfg, section.recent_items, side.texts, side.llm, side.vectors, stats
        )
    seqs, where = insert_picks(split.train, picks.items, section.seed)
    audit = {"teacher": picks.teacher, "base": base.name, "outcomes": dict(picks.outcomes),
             "inserted": int((where >= 0).sum()), "users": split.n_users,
             "pick_is_valid_item": int((picks.items == split.valid).sum()),
             "pick_is_test_item": int((picks.items == split.test).sum()),
             "samples": picks.samples, "llm_usage": side.accounting.to_dict()["total"]}  # fmt: skip
    out = ctx.root / NAME
    atomic_write(out / "picks.npz", lambda f: np.savez(f, item=picks.items, position=where), binary=True)
    write_json(out / "augment_audit.json", audit)
    ctx.values[AUGMENTED] = (seqs, audit)
    ctx.notes.setdefault("augmentations", {})[NAME] = {
        k: audit[k] for k in ("teacher", "outcomes", "inserted")
    }


def retrain_stage(ctx: RunContext, method: Method) -> None:
    """SASRec trained again on the augmented sequences: `llama4rec-seq-sasrec`."""
    base = _base(ctx)
    seqs, audit = ctx.values[AUGMENTED]
    run = train_sequential(ctx.method_cfg(BASE_NAME), base.split, ctx.prepared.dataset, ctx.root / RETRAINED,
                           name=RETRAINED, train=seqs, method_key=audit["teacher"])  # fmt: skip
    ctx.trained[RETRAINED] = ctx.values[trained(RETRAINED)] = run


def rerank_stage(ctx: RunContext, method: Method) -> None:
    """Every seed's SASRec candidates reranked and aggregated; metrics.json in OUT/llama4rec-seq."""
    section = _section(ctx, method)
    base = ctx.trained[RETRAINED] if section.augment else _base(ctx)
    assert isinstance(base, SequentialRun)
    rcfg = section.rerank(ctx.cfg.eval.ks, ctx.cfg.eval.activity_groups)
    llm = {k: getattr(ctx.cfg.llm, k) for k in LLM_FIELDS} if section.reranker == "llm" else None
    key = cfgmod.fingerprint(base.metrics["fingerprint"], cfgmod.to_dict(section), llm, ctx.cfg.eval.ks)
    out = ctx.model_dir(NAME)
    saved = saved_metrics(out, key)
    if saved is None:
        start = time.perf_counter()
        with ExitStack() as stack:
            side = _side(ctx, section.reranker, base, stack)
            runs = [_rerank_seed(rcfg, section, base, seed, side) for seed in base.seeds]
            usage = side.accounting.to_dict()["total"]
        teacher = runs[0]["teacher"]
        saved = {"dataset": ctx.cfg.data.dataset, "model": NAME, "base": base.name,
                 "seeds": [r["seed"] for r in runs],
                 **{k: f([r[k.removesuffix("_std")] for r in runs]) for k, f in
                    (("valid", mean_metrics), ("valid_std", std_metrics), ("test", mean_metrics),
                     ("test_std", std_metrics))},
                 "runs": runs, "train_seconds": time.perf_counter() - start, "split": base.metrics["split"],
                 "config": cfgmod.to_dict(ctx.cfg), "fingerprint": key, "reranker": teacher,
                 "llm_usage": usage}  # fmt: skip
        write_json(out / "metrics.json", saved)
    ctx.trained[NAME] = ctx.values[trained(NAME)] = Scored(NAME, saved)
    ctx.notes.setdefault("rerankers", {})[NAME] = {"base": base.name, "reranker": saved["reranker"]}


def _rerank_seed(
    rcfg: Llama4RecConfig, section: Llama4RecSeqConfig, base: SequentialRun, seed: int, side: RerankSide
) -> dict[str, Any]:
    """One seed: rerank for validation, choose alpha there, rerank for test, score the merged lists."""
    split = base.split
    edges = split.interactions()
    n_train = split.lengths()
    stats = side.accounting.stage(f"{NAME}.rerank")
    model = base.model(seed)
    phases = {}
    for phase, seqs, mask in (
        ("valid", split.train, edges.train.user_items),
        ("test", split.with_valid(), (edges.train.user_items + edges.valid.user_items)),
    ):
        top = conventional_top(sequence_scorer(model, padded(seqs, base.max_len)), mask, rcfg.list_length)
        phases[phase] = rerank_sequences(seqs, top, rcfg, section.recent_items, side.texts, side.llm,
                                         side.vectors, stats)  # fmt: skip
    pick, alpha = _choose(phases["valid"], edges.valid, n_train, rcfg)
    valid = mean_of(evaluate_lists(phases["valid"].lists(n_train, *alpha, pick), edges.valid, rcfg.ks)[1])
    users, values = evaluate_lists(phases["test"].lists(n_train, *alpha, pick), edges.test, rcfg.ks)
    return {
        "seed": seed, "valid": valid, "test": mean_of(values),
        "test_by_activity": group_means(users, values, n_train, rcfg.activity_groups),
        "alpha": {"alpha1": alpha[0], "alpha2": alpha[1], "aggregation": rcfg.aggregation},
        "teacher": phases["test"].teacher,
        "audit": {"valid": phases["valid"].audit, "test": phases["test"].audit},
        "samples": phases["test"].samples,
    }  # fmt: skip


def _choose(
    result: RerankResult, valid: Any, n_train: np.ndarray, cfg: Llama4RecConfig
) -> tuple[Llama4RecConfig, tuple[float, float]]:
    """(alpha1, alpha2) by the aggregation, as the direct task chooses them."""
    if cfg.aggregation == "llm":
        return dataclasses.replace(cfg, alpha_cutoff="inside"), (1.0, 1.0)
    if cfg.aggregation == "base":
        return cfg, (0.0, 0.0)
    if cfg.aggregation == "fixed":
        pick = dataclasses.replace(cfg, alpha_cutoff="inside")
        k = int(cfg.select_metric.partition("@")[2])

        def score(a1: float) -> float:
            _, values = evaluate_lists(result.lists(n_train, a1, 1.0, pick), valid, [k])
            return float(values[cfg.select_metric].mean(dtype=np.float64))

        return pick, (max(reversed(cfg.alpha_grid), key=score), 1.0)
    choice = choose_alpha(result.candidates, result.order, result.base_top, valid, n_train, cfg)
    return cfg, (choice.alpha1, choice.alpha2)




def _no_augment(cfg: RunConfig) -> str | None:
    """Why the augmentation stages are not needed."""
    on = cfg.sections.get(NAME, {}).get("augment", True)
    return None if on else f"{NAME}.augment is off (SASRec is reranked as trained)"


def switches(cfg: RunConfig) -> dict[str, bool]:
    """Which parts a config has on, for ablation rows."""
    section = cfgmod.from_dict(Llama4RecSeqConfig, cfg.sections.get(NAME, {}), NAME)
    return {
        "adaptive": section.aggregation == "adaptive",
        "aggregation": section.aggregation in ("adaptive", "fixed"),
        "augmentation": section.augment,
    }


def check(cfg: RunConfig, methods: Any) -> None:
    """It builds on the run's SASRec."""
    if BASE_NAME not in [m.name for m in methods]:
        raise ConfigError(f'{NAME} reranks SASRec\'s candidates: add "{BASE_NAME}" to methods')


LLAMA4REC_SEQ = Method(
    name=NAME,
    summary="Llama4Rec's sequential task: LLM next-item picks inserted into SASRec's training "
    "sequences, and SASRec's candidates reranked from the ordered history, aggregated per user",
    paper="Luo et al., arXiv 2401.13870",
    section=Llama4RecSeqConfig,
    evaluation="rerank",
    stages=(
        Stage(
            "augment",
            "the teacher picks each user's next item among SASRec's candidates; inserted "
            "at a seeded random position of the training sequence",
            augment_stage,
            consumes=(trained(BASE_NAME),),
            produces=(AUGMENTED,),
            skip=_no_augment,
        ),
        Stage(
            "retrain",
            "SASRec trained again on the augmented sequences",
            retrain_stage,
            consumes=(AUGMENTED,),
            produces=(trained(RETRAINED),),
            skip=_no_augment,
        ),
        Stage(
            "rerank",
            "SASRec's candidates reranked from the ordered history and aggregated, alpha "
            "chosen on validation",
            rerank_stage,
            consumes=(trained(BASE_NAME),),
            produces=(trained(NAME),),
        ),
    ),  # fmt: skip
    variants=(
        Variant("no-aggregation", "the teacher's order alone", {f"{NAME}.aggregation": "llm"}),
        Variant("fixed-alpha", "one alpha for every user", {f"{NAME}.aggregation": "fixed"}),
        Variant(
            "no-augmentation", "SASRec as trained, reranked", {f"{NAME}.augment": False}, stages=("rerank",)
        ),
    ),  # fmt: skip
    switches=switches,
    check=check,
)

__all__ = ["LLAMA4REC_SEQ", "NAME", "Llama4RecSeqConfig"]
