"""Models from a run config: each model's `[model.<name>]` table typed by the dataclass declared next to it.

`config.py` keeps those tables as read (it imports no model code); here they are checked and typed,
before any data loads, so a knob given to the wrong model, a misspelt model name or a value a model
rejects is a one-line `ConfigError`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from llmrec import config as cfgmod
from llmrec.config import ModelConfig, RunConfig
from llmrec.errors import ConfigError
from llmrec.models import MODELS, Capabilities, ModelSpec, build_model

FeatureDims = tuple[tuple[int, ...], tuple[int, ...]]  # widths of the (user, item) side features


def model_spec(name: str) -> ModelSpec:
    """A registered model, or ConfigError listing the known ones."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {sorted(MODELS)}")
    return MODELS[name]


def model_capabilities(name: str) -> Capabilities:
    """The declared capabilities of a registered model."""
    return model_spec(name).capabilities


def model_options(model: ModelConfig, name: str) -> Any:
    """The typed `[model.<name>]` knobs of model `name` (its published defaults where unset)."""
    spec = model_spec(name)
    table = model.options.get(name, {})
    known = {f.name for f in dataclasses.fields(spec.config)}
    wrong = sorted(set(table) - known)
    if wrong:
        owners = {
            k: [m for m, s in MODELS.items() if k in {f.name for f in dataclasses.fields(s.config)}]
            for k in wrong
        }
        hints = "; ".join(
            f"{k} is a knob of {', '.join(f'[model.{m}]' for m in ms)}" for k, ms in owners.items() if ms
        )
        mine = f"its knobs: {sorted(known)}" if known else "it has no knobs of its own"
        raise ConfigError(
            f"[model.{name}]: unknown key(s) {wrong}; {mine}" + (f" ({hints})" if hints else "")
        )
    return cfgmod.from_dict(spec.config, table, f"model.{name}")


def check_model_tables(model: ModelConfig) -> None:
    """Every `[model.<name>]` table names a registered model and only its knobs."""
    for name in model.options:
        if name not in MODELS:
            raise ConfigError(f"[model.{name}]: no such model; models: {sorted(MODELS)}")
        model_options(model, name)


def new_model(cfg: RunConfig, n_users: int, n_items: int, feature_dims: FeatureDims = ((), ())) -> nn.Module:
    """An untrained `cfg.model.name` as configured: shared architecture, its own knobs, [train] reg.

    `feature_dims` are the widths of the (user, item) side-feature matrices the model will read.
    A knob value the model rejects (e.g. `model.sgl.drop_ratio = 1.5`) is a ConfigError naming it.
    """
    name = cfg.model.name
    options = model_options(cfg.model, name)
    try:
        return build_model(
            name,
            n_users,
            n_items,
            cfg.model.dim,
            cfg.model.n_layers,
            cfg.train.reg,
            options=options,
            user_feature_dims=feature_dims[0],
            item_feature_dims=feature_dims[1],
        )
    except ValueError as exc:
        knobs = [f"model.{name}.{f.name}" for f in dataclasses.fields(options)]
        where = f"; it reads {', '.join(knobs)}" if knobs else ""
        raise ConfigError(f"[model] settings of {name!r}: {exc}{where}") from exc


def check_model(cfg: RunConfig, name: str) -> None:
    """Build a 1 x 1 `name` from `cfg`: every knob is checked before any data is loaded."""
    new_model(cfgmod.replace(cfg, **{"model.name": name}), 1, 1)


__all__ = [
    "FeatureDims",
    "check_model",
    "check_model_tables",
    "model_capabilities",
    "model_options",
    "model_spec",
    "new_model",
]
