"""`llmrec ablate`: the run, then each method's ablation variants (its recipe's `variants`).

A variant changes some config keys and runs the method's affected stages again (by default its last,
the training) into `OUT/ablation/<variant>`, on the same split and seeds and with the artefacts the
run already made in memory, so each row's p-value is a paired test against the full method, seed by
seed. A variant whose parts equal the full method's (a switch already off) is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmrec import config as cfgmod
from llmrec.atomic import write_json
from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.experiment import prepare
from llmrec.pipeline import context, execute, finish
from llmrec.plan import plan
from llmrec.significance import paired_p_values
from llmrec.stages import Method, Result, RunContext, Variant

ABLATION_JSON = "ablation.json"
METRICS = ("recall@10", "recall@20", "recall@50", "ndcg@10", "ndcg@20", "ndcg@50", "rmse", "mae")


def ablate(
    cfg: RunConfig,
    dirs: Sequence[Path],
    out: Path,
    show_progress: bool | None = None,
    env: Mapping[str, str] | None = None,
    only: Sequence[str] = (),
) -> dict[str, Any]:
    """Run `cfg`'s plan, then every variant (or those named in `only`) of each fully planned method
    that has some; write ablation.json, the report and summary.json."""
    the_plan = plan(cfg)
    known = {v.name for m in the_plan.methods for v in m.variants}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ConfigError(f"ablate --variants: unknown {unknown}; this run's methods have {sorted(known)}")
    ctx = execute(the_plan, context(the_plan, cfg, prepare(cfg, dirs), out, show_progress, env, dirs))
    parts = [
        ablate_method(ctx, method, only)
        for method in the_plan.methods
        if method.variants and the_plan.complete(method) and method.name in ctx.trained
    ]
    result = {
        "dataset": cfg.data.dataset,
        "seeds": cfg.seeds,
        "significance": {"test": cfg.eval.significance, "against": "full", "pairs": "seeds"},
        "methods": parts,
    }
    write_json(out / ABLATION_JSON, result)
    finish(ctx, the_plan)
    return result


def ablate_method(ctx: RunContext, method: Method, only: Sequence[str] = ()) -> dict[str, Any]:
    """The full method's row, then one per variant (of `only`, when given) that differs from it."""
    full = ctx.trained[method.name]
    rows = [_row("full", f"{method.name} (every part on)", method.name, method, ctx.cfg, full, None)]
    for variant in method.variants:
        if only and variant.name not in only:
            continue
        variant_cfg = cfgmod.replace(ctx.cfg, **variant.changes)
        if method.switches is not None and method.switches(variant_cfg) == method.switches(ctx.cfg):
            continue
        folder = Path("ablation") / variant.name
        run = _run_variant(ctx, method, variant, variant_cfg, ctx.root / folder)
        rows.append(_row(variant.name, variant.label, str(folder), method, variant_cfg, run, full))
    return {
        "method": method.name,
        "reference": "full",
        "metrics": [m for m in METRICS if m in full.metrics["test"]],
        "variants": rows,
    }


def _run_variant(ctx: RunContext, method: Method, variant: Variant, cfg: RunConfig, root: Path) -> Result:
    """Run the variant's stages of `method` under `cfg` into `root`, sharing the run's other artefacts."""
    child = RunContext(
        cfg,
        ctx.prepared,
        root,
        ctx.env,
        ctx.show_progress,
        flat=True,
        baselines=ctx.baselines,
        data_dirs=ctx.data_dirs,
        trained=dict(ctx.trained),
        values=dict(ctx.values),
    )
    for name in variant.stages or (method.stages[-1].name,):
        method.stage(name).run(child, method)
    return child.trained[method.name]


def _row(
    name: str, label: str, folder: str, method: Method, cfg: RunConfig, run: Result, reference: Result | None
) -> dict[str, Any]:
    """One ablation row: switches, metric means and stds, and against the full method p-values and change."""
    metrics = run.metrics
    row: dict[str, Any] = {
        "name": name,
        "label": label,
        "dir": folder,
        "switches": method.switches(cfg) if method.switches else {},
        "test": metrics["test"],
        "test_std": metrics["test_std"],
        "valid": metrics["valid"],
    }
    if reference is not None:
        tests = [r["test"] for r in metrics["runs"]]
        ref = reference.metrics
        row["p_value"] = paired_p_values(tests, [r["test"] for r in ref["runs"]], cfg.eval.significance)
        row["delta"] = {
            k: (v - ref["test"][k]) / ref["test"][k] if ref["test"][k] else None
            for k, v in metrics["test"].items()
        }
    return row


__all__ = ["ABLATION_JSON", "METRICS", "ablate", "ablate_method"]
