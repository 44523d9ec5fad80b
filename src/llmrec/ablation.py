"""`llmrec ablate`: LLMRec with each augmentation and each denoiser switched off in turn.

Every variant trains on the same split with the same seeds as the full model, so each row's p-value
is a paired test against the full model, seed by seed. The full run (`llmrec run` with the "augment"
and "llmrec" stages) comes first and is reused when it is already in the folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.pipeline import LLMREC, check_config, prepare, run_stages, train_models
from llmrec.rundir import write_json
from llmrec.significance import paired_p_values

ABLATION_JSON = "ablation.json"
SWITCHES = ("edges", "attributes", "profiles", "pruning", "mae")


@dataclass(frozen=True)
class Variant:
    """One row of the ablation: a name, what it shows, and the config keys it changes."""

    name: str
    label: str
    changes: Mapping[str, Any]


VARIANTS = (
    Variant("no-edges", "without augmented edges", {"llmrec.edges": False}),
    Variant("no-attributes", "without item attributes", {"llmrec.item_attributes": False}),
    Variant("no-profiles", "without user profiles", {"llmrec.user_profiles": False}),
    Variant("no-pruning", "without noisy-edge pruning", {"model.llmrec_prune_ratio": 0.0}),
    Variant("no-mae", "without MAE feature refinement", {"model.llmrec_mae_weight": 0.0}),
)
METRICS = ("recall@10", "recall@20", "recall@50", "ndcg@10", "ndcg@20", "ndcg@50")


def switches(cfg: RunConfig) -> dict[str, bool]:
    """Which augmentations and denoisers a config of model "llmrec" has on."""
    return {
        "edges": cfg.llmrec.edges,
        "attributes": cfg.llmrec.item_attributes,
        "profiles": cfg.llmrec.user_profiles,
        "pruning": cfg.model.llmrec_prune_ratio > 0,
        "mae": cfg.model.llmrec_mae_weight > 0,
    }


def ablate(
    cfg: RunConfig,
    dirs: Sequence[Path],
    out: Path,
    show_progress: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run the full pipeline, then each variant of `VARIANTS` that differs from it; write ablation.json.

    A variant whose switch is already off in the config is left out (it would repeat the full model).
    """
    stages = ("train", LLMREC) if cfg.llmrec.augment_dir else ("train", "augment", LLMREC)
    cfg = cfgmod.replace(cfg, stages=stages)
    check_config(cfg)
    prepared = prepare(cfg, dirs)
    run_stages(cfg, prepared, out, show_progress, env)
    augment_dir = cfg.llmrec.augment_dir or str(out / "augment")
    full_cfg = cfgmod.replace(cfgmod.for_model(cfg, LLMREC), **{"llmrec.augment_dir": augment_dir})
    full = train_models(full_cfg, prepared, out / LLMREC, show_progress)  # reused: compare trained it
    rows = [_row("full", "LLMRec (all augmentations, pruning, MAE)", LLMREC, full_cfg, full, None)]
    for variant in VARIANTS:
        variant_cfg = cfgmod.replace(full_cfg, **variant.changes)
        if switches(variant_cfg) == switches(full_cfg):
            continue
        folder = Path("ablation") / variant.name
        metrics = train_models(variant_cfg, prepared, out / folder, show_progress)
        rows.append(_row(variant.name, variant.label, str(folder), variant_cfg, metrics, full))
    result = {
        "dataset": cfg.data.dataset,
        "seeds": cfg.seeds,
        "reference": "full",
        "significance": {"test": cfg.eval.significance, "against": "full", "pairs": "seeds"},
        "metrics": [m for m in METRICS if m in full["test"]],
        "variants": rows,
    }
    write_json(out / ABLATION_JSON, result)
    from llmrec.report import write_report  # plotting code loads only at the end

    write_report(out)
    return result


def _row(
    name: str,
    label: str,
    folder: str,
    cfg: RunConfig,
    metrics: dict[str, Any],
    reference: dict[str, Any] | None,
) -> dict[str, Any]:
    """One ablation row: switches, metric means and stds, and against the full model p-values and change."""
    row: dict[str, Any] = {
        "name": name,
        "label": label,
        "dir": folder,
        "switches": switches(cfg),
        "test": metrics["test"],
        "test_std": metrics["test_std"],
        "valid": metrics["valid"],
    }
    if reference is not None:
        tests = [r["test"] for r in metrics["runs"]]
        row["p_value"] = paired_p_values(tests, [r["test"] for r in reference["runs"]], cfg.eval.significance)
        row["delta"] = {
            k: (v - reference["test"][k]) / reference["test"][k] if reference["test"][k] else None
            for k, v in metrics["test"].items()
        }
    return row


__all__ = ["ABLATION_JSON", "SWITCHES", "VARIANTS", "Variant", "ablate", "switches"]
