"""The graph-aware transformer recommender (Wang et al., arXiv 2402.09617) as a recipe.

Stage "pretrain": crowd pre-training over the run's seeds (item text, second-order and collaborative
prompts; content LM loss, collaborative loss, mutual regularisation). Stage "finetune": personal
prompts with part of the history masked, multinomial likelihood over all items, selection on
validation, one test with llmrec's all-ranking metrics, so the method sits in a run's table next to
LightGCN. Both stages key their files by a fingerprint of their inputs and settings (a rerun reuses
them) and checkpoint every epoch (a killed run resumes). docs/graph_transformer.md has the details.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from llmrec import config as cfgmod
from llmrec.atomic import atomic_write, write_json
from llmrec.augment import artefacts
from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.evaluate import evaluate_users, group_means
from llmrec.experiment import summarise
from llmrec.fingerprint import inputs_digest
from llmrec.gat.config import GatConfig
from llmrec.gat.data import GatData, build_data, with_attributes
from llmrec.gat.training import cpu_threads, finetune, new_model, pretrain, prompt_scorer
from llmrec.rundir import atomic_torch_save, save_split
from llmrec.stages import AUGMENT_DIR, AUGMENTATION, Method, RunContext, Stage, Variant, trained

NAME = "graph_transformer"
PRETRAINED = "graph_transformer.pretrained"  # the artefact: {seed: pre-trained state file}
_DATA = "graph_transformer.data"  # prompts and histories, built once per run and config
PRETRAIN_KEYS = (
    "n_layers", "dim", "n_heads", "context", "dropout", "checkpoint", "graph_bias", "max_hops",
    "cooccurrence", "min_word_count", "max_vocab", "text_tokens", "pretrain_epochs", "item_text",
    "second_order", "group_size", "mutual_weight", "batch_size", "lr", "weight_decay",
)  # fmt: skip


@dataclasses.dataclass
class GatResult:
    """The method's result as summary.json reads any method's: its name and metrics.json content."""

    name: str
    metrics: dict[str, Any]

    def valid_score(self, metric: str) -> float:
        """Its mean validation `metric`."""
        return float(self.metrics["valid"].get(metric, float("-inf")))


def _section(ctx: RunContext) -> GatConfig:
    """The run's typed [graph_transformer] table."""
    return cfgmod.from_dict(GatConfig, ctx.cfg.sections.get(NAME, {}), NAME)


def _augmentation(ctx: RunContext, section: GatConfig) -> Path | None:
    """The augmentation folder whose attributes join the item text, if any (`attributes`)."""
    if section.attributes == "off":
        return None
    if section.attributes != "auto":
        folder = Path(section.attributes).expanduser()
        if not (folder / artefacts.ATTRIBUTES_TSV).is_file():
            raise ConfigError(
                f"graph_transformer.attributes: no {artefacts.ATTRIBUTES_TSV} in {folder} "
                '(name an `llmrec augment` folder, or use "auto" or "off")'
            )
        return folder
    for found in (ctx.values.get(AUGMENTATION), ctx.root / AUGMENT_DIR):
        if found is not None and (Path(found) / artefacts.ATTRIBUTES_TSV).is_file():
            return Path(found)
    return None


def _meta(ctx: RunContext, section: GatConfig) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """The item metadata the prompts read: the dataset's, with generated attributes filled in where
    it has no value, and what was added from where (by whom: the augmentation's teacher label)."""
    meta = ctx.prepared.dataset.item_meta
    folder = _augmentation(ctx, section)
    if folder is None:
        return meta, {}
    item_ids = ctx.prepared.split.train.item_ids.astype(str).tolist()
    merged, filled = with_attributes(meta, artefacts.read_attributes(folder), item_ids)
    manifest = folder / artefacts.MANIFEST
    teacher = {}
    if manifest.is_file():
        teacher = json.loads(manifest.read_text(encoding="utf-8")).get("teacher", {})
    added = {"folder": str(folder), "teacher": teacher, "filled": filled}
    ctx.notes.setdefault(NAME, {})["attributes"] = added  # into summary.json
    return merged, added


def _data(ctx: RunContext, section: GatConfig) -> GatData:
    """The run's prompts and histories for `section` (built once, on the training split only)."""
    key = cfgmod.fingerprint(section, ctx.cfg.seed)
    cached = ctx.values.get(_DATA)
    if cached is None or cached[0] != key:
        meta, added = _meta(ctx, section)
        data = build_data(ctx.prepared.split.train.user_items, meta, section, ctx.cfg.seed)
        data.counts.update({f"attributes_filled_{k}": v for k, v in added.get("filled", {}).items()})
        ctx.values[_DATA] = cached = (key, data)
    return cached[1]  # type: ignore[no-any-return]


def _seeds(cfg: RunConfig) -> list[int]:
    """The run's seeds."""
    return [cfg.seed + i for i in range(cfg.seeds)]


def pretrain_key(ctx: RunContext, section: GatConfig, seed: int) -> str:
    """What a seed's pre-training depends on: its settings, the split's contents, the item text, the seed."""
    settings = {k: getattr(section, k) for k in PRETRAIN_KEYS}
    meta, _ = _meta(ctx, section)
    text = "" if meta is None else cfgmod.fingerprint(meta.astype(str).to_csv())
    return cfgmod.fingerprint(settings, inputs_digest(ctx.prepared.split, None), text, seed)


def pretrain_stage(ctx: RunContext, method: Method) -> None:
    """Crowd pre-training for every seed into OUT/graph_transformer/pretrain-seed<S>.pt (reused when
    its fingerprint matches; resumed from its checkpoint when killed)."""
    section = _section(ctx)
    out = ctx.model_dir(method.name)
    out.mkdir(parents=True, exist_ok=True)
    done: dict[int, tuple[Path, str]] = {}
    for seed in _seeds(ctx.cfg):
        key = pretrain_key(ctx, section, seed)
        path = out / f"pretrain-seed{seed}.pt"
        if not _holds(path, key):
            data = _data(ctx, section)
            model = new_model(data, section, seed)
            with cpu_threads(section.threads):
                result = pretrain(model, data, section, seed, out / f"pretrain-seed{seed}.ckpt", key)
            state = {k: v.cpu() for k, v in model.state_dict().items()}
            atomic_torch_save({"key": key, "state": state, "result": dataclasses.asdict(result)}, path)
            (out / f"pretrain-seed{seed}.ckpt").unlink(missing_ok=True)
        done[seed] = (path, key)
    ctx.values[PRETRAINED] = done


def finetune_stage(ctx: RunContext, method: Method) -> None:
    """Fine-tune every seed (from its pre-trained state when pre-training is on), select on
    validation, test once; OUT/graph_transformer/metrics.json in the format of every model."""
    section = _section(ctx)
    out = ctx.model_dir(method.name)
    out.mkdir(parents=True, exist_ok=True)
    pretrained = ctx.values.get(PRETRAINED, {}) if section.pretrain else {}
    if section.pretrain and not pretrained:
        raise ValueError("graph_transformer: pre-training is on but no pre-trained state was made")
    split, cfg = ctx.prepared.split, ctx.cfg
    save_split(split, ctx.prepared.dataset, out)  # the folder stands alone, as every model's does
    atomic_write(out / "config.toml", lambda f: f.write(cfgmod.dumps_toml(cfg)))
    runs, start = [], time.perf_counter()
    data: GatData | None = None
    for seed in _seeds(cfg):
        pre_key = pretrained[seed][1] if seed in pretrained else "none"
        settings = dataclasses.replace(section, threads=0)  # the thread count changes no result
        key = cfgmod.fingerprint(
            settings, pre_key, inputs_digest(split, None), cfg.eval, cfg.train.metric, seed
        )
        # the checkpoint leaves out when to stop: a run stopped early and run again with a different
        # epoch budget continues from the epochs it has (the learning rate does not depend on them)
        resume = dataclasses.replace(settings, finetune_epochs=1, patience=1)
        ckpt_key = cfgmod.fingerprint(
            resume, pre_key, inputs_digest(split, None), cfg.eval, cfg.train.metric, seed
        )
        record = _saved_record(out, seed, key)
        if record is None:
            data = data or _data(ctx, section)
            model = new_model(data, section, seed)
            if seed in pretrained:
                model.load_state_dict(torch.load(pretrained[seed][0], map_location="cpu")["state"])
            ckpt = out / f"finetune-seed{seed}.ckpt"
            result = finetune(
                model, data, section, split.valid, cfg.eval.ks, cfg.train.metric, seed, ckpt, ckpt_key
            )
            atomic_torch_save(
                {k: v.cpu() for k, v in model.state_dict().items()}, out / f"model-seed{seed}.pt"
            )
            ckpt.unlink(missing_ok=True)
            with cpu_threads(section.threads):
                record = _test(model, data, ctx, section, seed, result)
            write_json(out / f"seed{seed}.json", {"fingerprint": key, "run": record})
        runs.append(record)
    metrics = summarise(cfg, ctx.prepared, runs, time.perf_counter() - start)
    metrics |= {"model": NAME, "fingerprint": cfgmod.fingerprint([r["seed"] for r in runs], key)}
    metrics["prompts"] = (data or _data(ctx, section)).counts
    write_json(out / "metrics.json", metrics)
    ctx.trained[method.name] = ctx.values[trained(method.name)] = GatResult(method.name, metrics)


def _test(
    model: torch.nn.Module, data: GatData, ctx: RunContext, section: GatConfig, seed: int, result: Any
) -> dict[str, Any]:
    """One seed's record: its selection and its test metrics (train and valid items masked)."""
    split, cfg = ctx.prepared.split, ctx.cfg
    scorer = prompt_scorer(model, data, section)  # type: ignore[arg-type]
    users, values = evaluate_users(
        scorer, split.test, [split.train, split.valid], cfg.eval.ks, section.eval_batch_size
    )
    activity = np.diff(split.train.user_items.indptr)
    return {
        "seed": seed,
        "best_epoch": result.best_epoch,
        "stopped_by": result.stopped_by,
        "train_seconds": result.seconds,
        "valid": result.best_valid,
        "test": {k: float(v.mean(dtype=np.float64)) for k, v in values.items()},
        "test_by_activity": group_means(users, values, activity, cfg.eval.activity_groups),
        "history": result.history,
    }


def _holds(path: Path, key: str) -> bool:
    """Whether a saved state file was written under fingerprint `key`."""
    return path.is_file() and torch.load(path, map_location="cpu", weights_only=False).get("key") == key


def _saved_record(out: Path, seed: int, key: str) -> dict[str, Any] | None:
    """A finished seed of the same fingerprint, or None."""
    path = out / f"seed{seed}.json"
    if not path.is_file() or not (out / f"model-seed{seed}.pt").is_file():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    return saved["run"] if saved.get("fingerprint") == key else None  # type: ignore[no-any-return]


def _no_pretrain(cfg: RunConfig) -> str | None:
    """Why the pretrain stage is not needed: pre-training is off."""
    on = cfg.sections.get(NAME, {}).get("pretrain", True)
    return None if on else "graph_transformer.pretrain is off (fine-tuning starts from random weights)"


def switches(cfg: RunConfig) -> dict[str, bool]:
    """Which parts a config has on, for ablation rows."""
    s = cfgmod.from_dict(GatConfig, cfg.sections.get(NAME, {}), NAME)
    return {
        "graph-bias": s.graph_bias,
        "cooccurrence": s.graph_bias and s.cooccurrence,
        "pretrain": s.pretrain,
        "item-text": s.pretrain and (s.item_text or s.second_order),
        "mutual": s.mutual_weight > 0,
    }


BOTH = ("pretrain", "finetune")
_G = NAME + "."
GRAPH_TRANSFORMER = Method(
    name=NAME,
    summary="GPT-2-style transformer with user/item tokens and graph-biased attention; crowd pre-training",
    paper="Wang et al., arXiv 2402.09617",
    section=GatConfig,
    stages=(
        Stage(
            "pretrain",
            "crowd prompts: item text, second order, collaborative; mutual regularisation",
            pretrain_stage,
            produces=(PRETRAINED,),
            skip=_no_pretrain,
        ),
        Stage(
            "finetune",
            "personal prompts, masked history, multinomial over items; select on valid, test once",
            finetune_stage,
            consumes=(PRETRAINED,),
            produces=(trained(NAME),),
        ),
    ),
    variants=(
        Variant("no-graph-bias", "without the attention bias", {_G + "graph_bias": False}, BOTH),
        Variant("no-cooccurrence", "without the co-occurrence channel", {_G + "cooccurrence": False}, BOTH),
        Variant("no-pretrain", "fine-tuning from random weights", {_G + "pretrain": False}, ("finetune",)),
        Variant(
            "no-item-text",
            "pre-training on collaborative prompts only",
            {_G + "item_text": False, _G + "second_order": False},
            BOTH,
        ),
        Variant("no-mutual", "without mutual regularisation", {_G + "mutual_weight": 0.0}, BOTH),
    ),
    switches=switches,
)

__all__ = ["GRAPH_TRANSFORMER", "GatResult", "NAME", "PRETRAINED"]
