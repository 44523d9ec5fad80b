"""One model per file. `build_model` maps a config name to a constructor."""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

from llmrec.models.bpr_mf import BPRMF
from llmrec.models.gfcf import GFCF
from llmrec.models.lightgcn import LightGCN
from llmrec.models.llmrec import LLMRec, SideFeatures
from llmrec.models.sgl import SGL
from llmrec.models.simgcl import SimGCL


class Scorer(Protocol):
    """What every model offers: scores of every item for a batch of users."""

    def score(self, users: torch.Tensor, graph: Any) -> torch.Tensor:
        """[len(users), n_items] scores."""
        ...


class Trainable(Scorer, Protocol):
    """A model trained by `train.fit`: a differentiable loss on (users, positives, negatives)."""

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], graph: Any) -> torch.Tensor:
        """Scalar training loss of one batch."""
        ...


MODELS: dict[str, type[nn.Module]] = {
    "bpr-mf": BPRMF,
    "lightgcn": LightGCN,
    "sgl": SGL,
    "simgcl": SimGCL,
    "gf-cf": GFCF,
    "llmrec": LLMRec,
}
GRAPH_MODELS = frozenset({"lightgcn", "sgl", "simgcl", "gf-cf", "llmrec"})
# model-specific knobs: ModelConfig field -> (the models that read it, their constructor argument)
KNOBS: dict[str, tuple[tuple[str, ...], str]] = {
    "ssl_temp": (("sgl", "simgcl"), "ssl_temp"),
    "ssl_max_rows": (("sgl", "simgcl"), "ssl_max_rows"),
    "sgl_weight": (("sgl",), "ssl_weight"),
    "sgl_drop": (("sgl",), "drop_ratio"),
    "simgcl_weight": (("simgcl",), "ssl_weight"),
    "simgcl_eps": (("simgcl",), "eps"),
    "simgcl_init": (("simgcl",), "init"),
    "gfcf_alpha": (("gf-cf",), "alpha"),
    "gfcf_k": (("gf-cf",), "k"),
    "llmrec_fusion": (("llmrec",), "fusion"),
    "llmrec_feature_weight": (("llmrec",), "feature_weight"),
    "llmrec_aug_weight": (("llmrec",), "aug_weight"),
    "llmrec_prune": (("llmrec",), "prune_mode"),
    "llmrec_prune_ratio": (("llmrec",), "prune_ratio"),
    "llmrec_mask_ratio": (("llmrec",), "mask_ratio"),
    "llmrec_mae_weight": (("llmrec",), "mae_weight"),
    "llmrec_mae_gamma": (("llmrec",), "mae_gamma"),
}


def build_model(
    name: str,
    n_users: int,
    n_items: int,
    dim: int,
    n_layers: int,
    reg: float,
    *,
    user_feature_dims: tuple[int, ...] = (),
    item_feature_dims: tuple[int, ...] = (),
    **knobs: float | str,
) -> nn.Module:
    """Instantiate a model by name; raises KeyError for an unknown name or knob.

    `knobs` are `ModelConfig`'s model-specific fields (see KNOBS); each model takes the ones addressed
    to it and the others are irrelevant to it. A knob left out keeps the model's published default.
    The feature dimensions (widths of the matrices in `Graph.features`) come from the data, not the
    config; only LLMRec reads side features, so other models reject them (ValueError).
    """
    unknown = sorted(set(knobs) - set(KNOBS))
    if unknown:
        raise KeyError(f"unknown model knob(s) {unknown}; known: {sorted(KNOBS)}")
    if name not in MODELS:
        raise KeyError(name)
    mine = {KNOBS[k][1]: v for k, v in knobs.items() if name in KNOBS[k][0]}
    if name == "llmrec":
        return LLMRec(
            n_users,
            n_items,
            dim,
            n_layers,
            reg,
            tuple(user_feature_dims),
            tuple(item_feature_dims),
            **mine,  # type: ignore[arg-type]
        )
    if user_feature_dims or item_feature_dims:
        raise ValueError(f"model {name!r} does not read side features")
    if name == "bpr-mf":
        return BPRMF(n_users, n_items, dim=dim, reg=reg)
    if name == "gf-cf":
        return GFCF(n_users, n_items, **mine)  # type: ignore[arg-type]
    return MODELS[name](n_users, n_items, dim=dim, n_layers=n_layers, reg=reg, **mine)


__all__ = [
    "BPRMF",
    "GFCF",
    "GRAPH_MODELS",
    "KNOBS",
    "MODELS",
    "SGL",
    "LLMRec",
    "LightGCN",
    "SideFeatures",
    "SimGCL",
    "build_model",
]
