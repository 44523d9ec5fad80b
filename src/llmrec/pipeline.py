"""Chains the stages: config -> dataset -> split -> model -> fit(train, valid) -> evaluate(test) -> run dir.

What a run writes and how it is read back lives in `rundir.py`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.data.dataset import Dataset, Split
from llmrec.data.prepare import load_dataset
from llmrec.data.split import split as make_split
from llmrec.errors import ConfigError, LLMRecError
from llmrec.evaluate import evaluate_users, group_means, mean_metrics, model_scorer, std_metrics
from llmrec.features import (
    AugmentedInputs,
    feature_dims,
    load_augmented,
    resolve_augment_dir,
    save_inputs,
)
from llmrec.graph import Graph, build_graph
from llmrec.models import GRAPH_MODELS, MODELS
from llmrec.rundir import (
    RunCheckpoint,
    atomic_torch_save,
    checkpoint_file,
    model_file,
    new_model,
    save_split,
    warm_start,
    write_json,
)
from llmrec.significance import TESTS, paired_p_values
from llmrec.train import FitResult, check_negatives, check_train_config, fit, fit_edges

log = logging.getLogger("llmrec")

STAGES = ("train", "augment", "llmrec")  # what `llmrec run` can chain, in this order
LLMREC = "llmrec"  # the augmented model: trained by the "llmrec" stage, never a baseline


@dataclass
class Prepared:
    """A dataset loaded and split once, shared by every model and seed of a run."""

    dataset: Dataset
    split: Split


def prepare(cfg: RunConfig, dirs: Sequence[Path]) -> Prepared:
    """Load the configured dataset and split it."""
    dataset = load_dataset(cfg.data, list(dirs))
    return Prepared(dataset, make_split(dataset, cfg.split))


def check_model_name(name: str) -> None:
    """Raise ConfigError for an unknown model name, listing the known ones."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {sorted(MODELS)}")


def check_config(cfg: RunConfig, single: bool = False) -> None:
    """Fail before loading data on settings that cannot work.

    `single` is `llmrec train` (one model, `cfg.model`); otherwise `llmrec run`, whose `models` are the
    baselines and whose "llmrec" stage trains the augmented model.
    """
    unknown = sorted(set(cfg.stages) - set(STAGES))
    if unknown or "train" not in cfg.stages:
        raise ConfigError(f"stages {list(cfg.stages)}: must include 'train', and only {list(STAGES)}")
    names = [cfg.model.name] if single else list(cfg.models) or [cfg.model.name]
    for name in names if single or LLMREC not in cfg.stages else [*names, LLMREC]:
        check_model_name(name)
        # a 1 x 1 model checks the model's knobs before any data is loaded
        new_model(cfgmod.replace(cfg, model=cfgmod.replace(cfg.model, name=name)), 1, 1)
    if single and uses_augmentation(cfg):
        resolve_augment_dir(cfg.llmrec)  # raises when no augmentation folder is named
    if not single and cfg.llmrec.graph_edges and not cfg.llmrec.augment_dir:
        raise ConfigError(
            "llmrec.graph_edges in `llmrec run` needs llmrec.augment_dir: the baselines train before "
            "this run's own augmentation exists"
        )
    if not single:
        if LLMREC in names:
            raise ConfigError(
                "models: 'llmrec' is not a baseline; add 'llmrec' to stages (after 'augment') to train it"
            )
        if LLMREC in cfg.stages and "augment" not in cfg.stages and not cfg.llmrec.augment_dir:
            raise ConfigError(
                "stage 'llmrec' needs the augmentations: add 'augment' to stages or set llmrec.augment_dir"
            )
    check_train_config(cfg.train, cfg.eval)
    # `llmrec train` applies only its own model's entry, so a run config's other entries may stay
    trained = set(MODELS) if single else {*names, LLMREC}
    for name in cfg.train_by_model:
        if name not in trained:
            raise ConfigError(f"train_by_model.{name}: not a model of this run; models: {sorted(trained)}")
        check_train_config(cfgmod.for_model(cfg, name).train, cfg.eval)
    for name in names if single or LLMREC not in cfg.stages else [*names, LLMREC]:
        check_negatives(MODELS[name], cfgmod.for_model(cfg, name).train.negatives)
    if cfg.seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {cfg.seeds}")
    if cfg.eval.significance not in TESTS:
        raise ConfigError(
            f"eval.significance: unknown test {cfg.eval.significance!r}; use one of {list(TESTS)}"
        )
    if cfg.eval.screen not in cfgmod.SCREENS:
        raise ConfigError(f"eval.screen: expected auto, on or off, got {cfg.eval.screen!r}")
    if cfg.eval.activity_groups < 1:
        raise ConfigError(f"eval.activity_groups must be at least 1, got {cfg.eval.activity_groups}")


def model_graph(cfg: RunConfig, split: Split, inputs: AugmentedInputs | None = None) -> Graph | None:
    """The propagation graph a model of `cfg` trains and scores on (None for non-graph models)."""
    if cfg.model.name not in GRAPH_MODELS:
        return None
    extra = None
    if cfg.llmrec.graph_edges and inputs is not None and inputs.triples is not None:
        users, pos, _ = inputs.triples
        shape = (split.train.n_users, split.train.n_items)
        extra = sp.csr_matrix((np.ones(len(users), np.float32), (users, pos)), shape=shape)
    return build_graph(split.train, extra, None if inputs is None else inputs.features)


def retrains(cfg: RunConfig) -> bool:
    """Whether `cfg` tests a model retrained on train + valid: `train.refit` on a trained model (a
    closed-form one is solved again instead)."""
    return cfg.train.refit and not hasattr(MODELS[cfg.model.name], "fit")


def refit_split(split: Split) -> Split:
    """`split` with valid's edges added to train: what a retrained test model learns from."""
    return replace(split, train=split.train.with_matrix(fit_edges(split.train.user_items, split.valid, True)))


def uses_augmentation(cfg: RunConfig) -> bool:
    """Whether a model of `cfg` reads an augmentation folder: LLMRec always, others with graph_edges."""
    return cfg.model.name == LLMREC or cfg.llmrec.graph_edges


def _load_inputs(cfg: RunConfig, split: Split) -> AugmentedInputs:
    """What the model reads from the augmentation folder: all LLMRec's inputs, or only the triples."""
    if cfg.model.name != LLMREC and cfg.model.name not in GRAPH_MODELS:
        raise ConfigError(f"llmrec.graph_edges: {cfg.model.name} has no graph to add edges to")
    wanted = cfg.llmrec
    if cfg.model.name != LLMREC:  # a baseline takes the edges and nothing else
        off = dict.fromkeys(("item_text", "item_attributes", "user_profiles"), False)
        wanted = cfgmod.replace(cfg.llmrec, edges=True, **off)
    return load_augmented(resolve_augment_dir(cfg.llmrec), split, wanted)


def train_models(
    cfg: RunConfig,
    prepared: Prepared,
    out: Path,
    show_progress: bool | None = None,
    inputs: AugmentedInputs | None = None,
) -> dict[str, Any]:
    """Train `cfg.model` over `cfg.seeds` seeds, test each selected model once, write the run dir.

    A seed whose model and record are already in `out` under the same fingerprint (config, split,
    inputs) is reused, and a seed killed mid-training resumes from its last checkpoint (saved every
    `train.checkpoint_minutes`), so a killed run loses at most that much training.
    Model "llmrec" reads its augmented `inputs`, by default from `cfg.llmrec.augment_dir`.
    """
    check_model_name(cfg.model.name)
    split = prepared.split
    if inputs is None and uses_augmentation(cfg):
        inputs = _load_inputs(cfg, split)
    out.mkdir(parents=True, exist_ok=True)
    key = run_fingerprint(cfg, split, inputs)
    save_split(split, prepared.dataset, out)
    (out / "config.toml").write_text(cfgmod.dumps_toml(cfg), encoding="utf-8")
    if inputs is not None:
        save_inputs(inputs, out)
    graph = model_graph(cfg, split, inputs)
    merged = refit_split(split) if retrains(cfg) else None
    test_graph = model_graph(cfg, merged, inputs) if merged is not None else graph
    activity = np.diff(split.train.user_items.indptr)
    runs = []
    start = time.perf_counter()
    for i in range(cfg.seeds):
        seed = cfg.seed + i
        saved = _saved_seed(out, seed, key, retrains(cfg))
        if saved is not None:
            log.info("seed %d: reused from %s (fingerprint %s)", seed, out, key)
            runs.append(saved)
            continue
        model = _fresh_model(cfg, split, inputs, seed)
        # only LLMRec trains on triples; with graph_edges a baseline sees them as edges of its graph
        triples = None if inputs is None or cfg.model.name != LLMREC else inputs.triples
        # with refit, the selection is saved on its own: a run killed during the refit skips reselecting
        result = _saved_selection(out, seed, key) if merged is not None else None
        if result is None:
            checkpoint = RunCheckpoint(out / checkpoint_file(seed), key, cfg.train.checkpoint_minutes * 60)
            result = fit(
                model,
                split.train,
                split.valid,
                graph,
                cfg.train,
                cfg.eval,
                seed,
                show_progress,
                triples,
                checkpoint=checkpoint,
            )
            atomic_torch_save(model.state_dict(), out / model_file(seed))
            if merged is not None:
                write_json(out / f"seed{seed}-selected.json", {"fingerprint": key, "result": asdict(result)})
            checkpoint.clear()
        refit = None
        if merged is not None:  # the same seed and schedule again, on train + valid, to the chosen epoch
            model = _fresh_model(cfg, split, inputs, seed)
            checkpoint = RunCheckpoint(
                out / checkpoint_file(seed, retrained=True), key, cfg.train.checkpoint_minutes * 60
            )
            refit = fit(
                model,
                merged.train,
                None,
                test_graph,
                cfg.train,
                cfg.eval,
                seed,
                show_progress,
                triples,
                stop_after=result.best_epoch,
                checkpoint=checkpoint,
            )
            atomic_torch_save(model.state_dict(), out / model_file(seed, retrained=True))
            checkpoint.clear()
        test, groups = test_model(model, test_graph, split, cfg, show_progress, activity)
        record = {
            "seed": seed,
            "best_epoch": result.best_epoch,
            "stopped_by": result.stopped_by,
            "train_seconds": result.train_seconds + (refit.train_seconds if refit else 0.0),
            "valid": result.best_valid,
            "test": test,
            "test_by_activity": groups,
            "history": result.history,
        }
        if refit is not None:
            record["refit"] = {
                "epochs": refit.best_epoch,
                "seconds": refit.train_seconds,
                "history": refit.history,
            }
        write_json(out / f"seed{seed}.json", {"fingerprint": key, "run": record})
        runs.append(record)
        log.info("seed %d: best epoch %d, test %s", seed, result.best_epoch, _short(test))
    metrics = summarise(cfg, prepared, runs, time.perf_counter() - start)
    metrics["fingerprint"] = key
    if inputs is not None:
        metrics["inputs"] = inputs.sources
    write_json(out / "metrics.json", metrics)
    return metrics


def _fresh_model(cfg: RunConfig, split: Split, inputs: AugmentedInputs | None, seed: int) -> torch.nn.Module:
    """A new model of `cfg` initialised from `seed` (or warm-started from `train.init_from`)."""
    torch.manual_seed(seed)
    model = new_model(cfg, split.train.n_users, split.train.n_items, feature_dims(inputs))
    if cfg.train.init_from:
        warm_start(model, Path(cfg.train.init_from).expanduser(), seed, split)
    return model


def _saved_selection(out: Path, seed: int, key: str) -> FitResult | None:
    """How a seed's validated model was chosen, saved (with its weights) by an earlier run of the same
    fingerprint that stopped before its refit finished, or None."""
    path = out / f"seed{seed}-selected.json"
    if not path.is_file() or not (out / model_file(seed)).is_file():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved.get("fingerprint") != key:
        return None
    log.info(
        "seed %d: selection reused from %s (epoch %d); refitting", seed, out, saved["result"]["best_epoch"]
    )
    return FitResult(**saved["result"])


def _saved_seed(out: Path, seed: int, key: str, retrained: bool) -> dict[str, Any] | None:
    """A finished seed's record from an earlier run of the same fingerprint, or None."""
    path = out / f"seed{seed}.json"
    if not path.is_file() or not (out / model_file(seed, retrained)).is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None  # written atomically, so only a hand-edited file gets here: retrain
    return cast(dict[str, Any], saved["run"]) if saved.get("fingerprint") == key else None


# settings that change no result (how the top K is found, how often training state is saved): never
# hashed, so a run stays reusable across them
UNHASHED: dict[str, set[str]] = {"eval": {"screen"}, "train": {"checkpoint_minutes"}}
# settings added after runs were made, hashed only when set away from their default (the old behaviour)
LATER: dict[str, dict[str, Any]] = {"model": {"simgcl_init": "normal"}}


def _hashed(section: str, part: Any) -> dict[str, Any]:
    """A config section as `run_fingerprint` hashes it: without its `UNHASHED` keys, nor its `LATER`
    keys while they hold their default."""
    skip, later = UNHASHED.get(section, set()), LATER.get(section, {})
    return {
        k: v for k, v in cfgmod.to_dict(part).items() if k not in skip and (k not in later or later[k] != v)
    }


def run_fingerprint(cfg: RunConfig, split: Split, inputs: AugmentedInputs | None) -> str:
    """Hash of what a trained seed depends on: the data, split, model, training and evaluation
    settings, the split's exact contents and the augmented inputs' contents (not the folder they came
    from). The number of seeds is left out so that asking for more seeds reuses the first ones."""
    digest = hashlib.sha256()
    for part in (split.train, split.valid, split.test):
        digest.update(part.user_items.indptr.tobytes())
        digest.update(part.user_items.indices.tobytes())
    if inputs is not None:
        for side in (inputs.features.user, inputs.features.item):
            for name, x in side.items():
                digest.update(name.encode())
                digest.update(x.numpy().tobytes())
        for array in inputs.triples or ():
            digest.update(array.tobytes())
    llmrec = cfgmod.replace(cfg.llmrec, augment_dir="") if inputs is not None else None
    model, train, evals = (_hashed(name, getattr(cfg, name)) for name in ("model", "train", "eval"))
    return cfgmod.fingerprint(cfg.data, cfg.split, model, train, evals, cfg.seed, llmrec, digest.hexdigest())


def test_model(
    model: torch.nn.Module,
    graph: Any,
    split: Split,
    cfg: RunConfig,
    show_progress: bool | None = None,
    activity: np.ndarray | None = None,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Test metrics of a trained model with train and valid items masked, overall and by user activity.

    `activity` (training interactions per user) splits the test users into `cfg.eval.activity_groups`
    equal groups, least active first: the long tail.
    """
    scorer = model_scorer(model, graph, cfg.eval.screen_flag())
    with _bar(len(split.test.active_users()), "test", show_progress) as bar:
        users, values = evaluate_users(
            scorer, split.test, [split.train, split.valid], cfg.eval.ks, cfg.eval.batch_size, bar.update
        )
    overall = {name: float(v.mean(dtype=np.float64)) for name, v in values.items()}
    if activity is None:
        activity = np.diff(split.train.user_items.indptr)
    return overall, group_means(users, values, activity, cfg.eval.activity_groups)


def _bar(total: int, desc: str, show: bool | None) -> tqdm:
    """A transient progress bar over users; hidden when output is not a terminal (show=None)."""
    return tqdm(total=total, desc=desc, unit="user", leave=False, disable=None if show is None else not show)


def summarise(
    cfg: RunConfig, prepared: Prepared, runs: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    """metrics.json content: means and standard deviations over seeds, plus each run."""
    split = prepared.split
    return {
        "dataset": cfg.data.dataset,
        "model": cfg.model.name,
        "seeds": [r["seed"] for r in runs],
        "valid": mean_metrics([r["valid"] for r in runs]),
        "valid_std": std_metrics([r["valid"] for r in runs]),
        "test": mean_metrics([r["test"] for r in runs]),
        "test_std": std_metrics([r["test"] for r in runs]),
        "runs": runs,
        "train_seconds": seconds,
        "split": {
            "method": split.method,
            "n_users": split.train.n_users,
            "n_items": split.train.n_items,
            "train": split.train.nnz,
            "valid": split.valid.nnz,
            "test": split.test.nnz,
            "notes": list(split.notes) + list(prepared.dataset.notes),
        },
        "config": cfgmod.to_dict(cfg),
    }


def _short(metrics: dict[str, float]) -> str:
    """Recall and NDCG at 20 for log lines."""
    return " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k in ("recall@20", "ndcg@20"))


def compare(
    cfg: RunConfig,
    dirs: Sequence[Path],
    out: Path,
    show_progress: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Train every baseline of `cfg.models` on one split and seed set, then run the configured stages.

    With "augment" in `cfg.stages`, LLMRec's augmentations of the best baseline go to `out/augment`
    and the audit and teacher into the summary; with "llmrec", the LLMRec model trains on them in
    `out/llmrec`. Every model gets a paired p-value per test metric against the best baseline (on
    validation). Writes `summary.json` after each stage and `report.html` / `report.md` at the end.
    `env` supplies the LLM's base URL, model and key variables.
    """
    check_config(cfg)
    return run_stages(cfg, prepare(cfg, dirs), out, show_progress, env)


def run_stages(
    cfg: RunConfig,
    prepared: Prepared,
    out: Path,
    show_progress: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`compare` on an already prepared split (checked config)."""
    names = list(cfg.models) or [cfg.model.name]
    metrics: dict[str, dict[str, Any]] = {}
    for name in names:
        metrics[name] = train_models(cfgmod.for_model(cfg, name), prepared, out / name, show_progress)
    summary: dict[str, Any] = {"dataset": cfg.data.dataset, "seeds": cfg.seeds, "config": cfgmod.to_dict(cfg)}
    _summarise_models(summary, metrics, names, cfg)
    write_json(out / "summary.json", summary)
    if "augment" in cfg.stages:
        from llmrec.augment.stage import run_augmentation  # the encoder stack loads only when asked

        audit = run_augmentation(out, cfg.augment, cfg.llm, env or {}, None, show_progress)
        summary["augmentation"] = audit
        summary["teacher"] = audit.get("teacher")
        write_json(out / "summary.json", summary)
    if LLMREC in cfg.stages:
        augment_dir = cfg.llmrec.augment_dir or str(out / "augment")
        llmrec_cfg = cfgmod.replace(cfgmod.for_model(cfg, LLMREC), **{"llmrec.augment_dir": augment_dir})
        metrics[LLMREC] = train_models(llmrec_cfg, prepared, out / LLMREC, show_progress)
        summary.setdefault("teacher", metrics[LLMREC]["inputs"].get("teacher"))
        _summarise_models(summary, metrics, names, cfg)
        write_json(out / "summary.json", summary)
    from llmrec.report import write_report  # plotting code loads only at the end

    summary["report"] = [str(p.name) for p in write_report(out)]
    write_json(out / "summary.json", summary)
    return summary


def _summarise_models(
    summary: dict[str, Any], metrics: Mapping[str, dict[str, Any]], baselines: Sequence[str], cfg: RunConfig
) -> None:
    """Fill summary["models"] (means, stds, p-values) and the baseline the p-values refer to."""
    best = max(baselines, key=lambda n: (metrics[n]["valid"][cfg.train.metric], n))
    summary["best_baseline"] = best
    summary["significance"] = {
        "test": cfg.eval.significance,
        "against": best,
        "chosen_by": f"best validation {cfg.train.metric} among {list(baselines)}",
        "pairs": "seeds (same split, same seed per pair)",
    }
    summary["models"] = {}
    for name, m in metrics.items():
        entry = {k: m[k] for k in ("valid", "valid_std", "test", "test_std", "train_seconds")}
        if name != best:
            tests = [r["test"] for r in m["runs"]]
            entry["p_value"] = paired_p_values(
                tests, [r["test"] for r in metrics[best]["runs"]], cfg.eval.significance
            )
        summary["models"][name] = entry


__all__ = [
    "LLMRecError",
    "Prepared",
    "compare",
    "prepare",
    "run_stages",
    "train_models",
]
