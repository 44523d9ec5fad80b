"""summary.json of a run: every trained method's means and spreads, and paired p-values against the
best baseline (chosen on validation by `stages.best_of`, the one rule)."""

from __future__ import annotations

from typing import Any

from llmrec import config as cfgmod
from llmrec.significance import paired_p_values
from llmrec.stages import RunContext, best_of

ENTRY_KEYS = ("valid", "valid_std", "test", "test_std", "train_seconds")


def summarise_run(ctx: RunContext, skipped: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """The summary of a finished run context: models (in the order they trained), significance,
    and what stages noted (an augmentation's audit and teacher)."""
    cfg = ctx.cfg
    summary: dict[str, Any] = {"dataset": cfg.data.dataset, "seeds": cfg.seeds, "config": cfgmod.to_dict(cfg)}
    baselines = {n: ctx.trained[n] for n in ctx.baselines if n in ctx.trained}
    best = best_of(baselines, cfg.train.metric) if baselines else None
    if best is not None:
        summary["best_baseline"] = best
        summary["significance"] = {
            "test": cfg.eval.significance,
            "against": best,
            "chosen_by": f"best validation {cfg.train.metric} among {list(baselines)}",
            "pairs": "seeds (same split, same seed per pair)",
        }
    summary["models"] = {}
    for name, run in ctx.trained.items():
        entry = {k: run.metrics[k] for k in ENTRY_KEYS}
        if best is not None and name != best:
            tests = [r["test"] for r in run.metrics["runs"]]
            reference = [r["test"] for r in ctx.trained[best].metrics["runs"]]
            entry["p_value"] = paired_p_values(tests, reference, cfg.eval.significance)
        summary["models"][name] = entry
    summary.update(ctx.notes)
    if skipped:
        summary["skipped_stages"] = {label: why for label, why in skipped}
    return summary


__all__ = ["summarise_run"]
