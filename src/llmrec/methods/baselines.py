"""The conventional recommenders as recipes: one stage, train the model over the run's seeds.

Each is compared against every other method of a run, and the best of them on validation is the
base that LLM methods build on (`stages.BASE`).
"""

from __future__ import annotations

from llmrec.experiment import train_seeds
from llmrec.features import load_extra_edges
from llmrec.stages import BASE, Method, RunContext, Stage, trained


def train_stage(ctx: RunContext, method: Method) -> None:
    """Train the method's model over the run's seeds (reusing saved ones); `train.extra_edges` names an
    augmentation whose liked edges join its graph."""
    cfg = ctx.method_cfg(method.name, method.model)
    split = ctx.prepared.split
    extra = load_extra_edges(cfg.train.extra_edges, split) if cfg.train.extra_edges else None
    run = train_seeds(
        cfg,
        ctx.prepared,
        ctx.model_dir(method.name),
        name=method.name,
        extra_edges=extra,
        show_progress=ctx.show_progress,
    )
    ctx.trained[method.name] = ctx.values[trained(method.name)] = run


def baseline(name: str, summary: str, paper: str) -> Method:
    """A conventional method that trains the registered model of the same name."""
    stage = Stage(
        "train",
        "train over the seeds, select on validation, test once",
        train_stage,
        produces=(trained(name), BASE),
    )
    return Method(name, summary, paper, (stage,), model=name, baseline=True)


BASELINES = (
    baseline("pop", "most popular items for everyone: the bar to clear", "-"),
    baseline("bpr-mf", "matrix factorisation with the BPR loss", "Rendle et al., UAI 2009"),
    baseline(
        "lightgcn", "LightGCN: ID embeddings smoothed over the user-item graph", "He et al., SIGIR 2020"
    ),
    baseline("sgl", "SGL-ED: LightGCN with edge-dropout contrastive views", "Wu et al., SIGIR 2021"),
    baseline("simgcl", "SimGCL: LightGCN with noise-perturbed contrastive views", "Yu et al., SIGIR 2022"),
    baseline("gf-cf", "GF-CF: a training-free graph filter, solved in closed form", "Shen et al., CIKM 2021"),
)

__all__ = ["BASELINES", "baseline", "train_stage"]
