"""One model per file. `MODELS` names each with its config dataclass; `build_model` constructs one.

A model's own knobs live in a frozen dataclass declared next to it (e.g. `SGLConfig` in sgl.py), whose
fields are keyword arguments of its constructor; a run config sets them in `[model.<name>]`. The knobs
every model family shares, `[model] dim` and `n_layers` and `[train] reg`, are passed to the models
that take them (`ModelSpec.shared`). What a model can do is its declared `capabilities` (base.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import nn

from llmrec.models.base import (
    Capabilities,
    ClosedForm,
    GraphLike,
    Scorer,
    SideFeatures,
    Trainable,
    capabilities_of,
)
from llmrec.models.biased_mf import BiasedMF, BiasedMFConfig
from llmrec.models.bpr_mf import BPRMF, BPRMFConfig
from llmrec.models.deepfm import DeepFM, DeepFMConfig
from llmrec.models.er2alm import ER2ALM, ER2ALMModelConfig
from llmrec.models.gfcf import GFCF, GFCFConfig
from llmrec.models.lightgcn import LightGCN, LightGCNConfig
from llmrec.models.llmrec import LLMRec, LLMRecModelConfig
from llmrec.models.pop import MostPop, PopConfig
from llmrec.models.sasrec import SASRec, SASRecConfig
from llmrec.models.sgl import SGL, SGLConfig
from llmrec.models.simgcl import SimGCL, SimGCLConfig

SHARED = ("dim", "n_layers", "reg")  # [model] dim, n_layers and [train] reg


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its class, its knobs' dataclass and which shared knobs it takes."""

    cls: type[nn.Module]
    config: type[Any]  # frozen dataclass; its fields are keyword arguments of `cls`
    shared: tuple[str, ...]  # the subset of SHARED its constructor takes

    @property
    def capabilities(self) -> Capabilities:
        """The model class's declared capabilities."""
        return capabilities_of(self.cls)


MODELS: dict[str, ModelSpec] = {
    "pop": ModelSpec(MostPop, PopConfig, ()),
    "bpr-mf": ModelSpec(BPRMF, BPRMFConfig, ("dim", "reg")),
    "lightgcn": ModelSpec(LightGCN, LightGCNConfig, SHARED),
    "sgl": ModelSpec(SGL, SGLConfig, SHARED),
    "simgcl": ModelSpec(SimGCL, SimGCLConfig, SHARED),
    "gf-cf": ModelSpec(GFCF, GFCFConfig, ()),
    "llmrec": ModelSpec(LLMRec, LLMRecModelConfig, SHARED),
    "sasrec": ModelSpec(SASRec, SASRecConfig, ("dim", "n_layers")),
    "er2alm": ModelSpec(ER2ALM, ER2ALMModelConfig, SHARED),
}


# Explicit-rating models (capability `rating`): they predict (user, item) ratings instead of scoring
# every item, so the ranking contract tests and `build_model` do not apply; `llmrec.tasks.rating`
# builds them, their knobs in the rating method's own table ([biased-mf], [deepfm]).
RATING_MODELS: dict[str, ModelSpec] = {
    "biased-mf": ModelSpec(BiasedMF, BiasedMFConfig, ()),
    "deepfm": ModelSpec(DeepFM, DeepFMConfig, ()),
}


def build_model(
    name: str,
    n_users: int,
    n_items: int,
    dim: int = 64,
    n_layers: int = 3,
    reg: float = 1e-4,
    *,
    options: Any = None,
    user_feature_dims: tuple[int, ...] = (),
    item_feature_dims: tuple[int, ...] = (),
) -> nn.Module:
    """Instantiate a registered model; KeyError for an unknown name.

    `options` is an instance of the model's config dataclass (None: its published defaults). The
    feature dimensions (widths of the matrices in `GraphLike.features`) come from the data, not the
    config; a model without the `side_features` capability rejects them (ValueError), and a knob value
    the model rejects is its constructor's ValueError.
    """
    spec = MODELS[name]
    if options is None:
        options = spec.config()
    if not isinstance(options, spec.config):
        raise TypeError(f"options of {name!r} must be a {spec.config.__name__}, got {type(options).__name__}")
    shared = {k: v for k, v in {"dim": dim, "n_layers": n_layers, "reg": reg}.items() if k in spec.shared}
    features: dict[str, tuple[int, ...]] = {}
    if spec.capabilities.side_features:
        features = {
            "user_feature_dims": tuple(user_feature_dims),
            "item_feature_dims": tuple(item_feature_dims),
        }
    elif user_feature_dims or item_feature_dims:
        raise ValueError(f"model {name!r} does not read side features")
    return spec.cls(n_users, n_items, **shared, **features, **dataclasses.asdict(options))


__all__ = [
    "BPRMF",
    "ER2ALM",
    "RATING_MODELS",
    "BiasedMF",
    "BiasedMFConfig",
    "DeepFM",
    "DeepFMConfig",
    "GFCF",
    "MODELS",
    "SGL",
    "SASRec",
    "SHARED",
    "Capabilities",
    "ClosedForm",
    "GraphLike",
    "LLMRec",
    "LightGCN",
    "ModelSpec",
    "MostPop",
    "Scorer",
    "SideFeatures",
    "SimGCL",
    "Trainable",
    "build_model",
    "capabilities_of",
]
