"""One model per file. `build_model` maps a config name to a constructor."""

from __future__ import annotations

from torch import nn

from llmrec.models.bpr_mf import BPRMF
from llmrec.models.lightgcn import LightGCN

MODELS: dict[str, type[nn.Module]] = {"bpr-mf": BPRMF, "lightgcn": LightGCN}
GRAPH_MODELS = frozenset({"lightgcn"})


def build_model(name: str, n_users: int, n_items: int, dim: int, n_layers: int, reg: float) -> nn.Module:
    """Instantiate a model by name; raises KeyError for an unknown name."""
    if name == "bpr-mf":
        return BPRMF(n_users, n_items, dim=dim, reg=reg)
    if name == "lightgcn":
        return LightGCN(n_users, n_items, dim=dim, n_layers=n_layers, reg=reg)
    raise KeyError(name)


__all__ = ["BPRMF", "GRAPH_MODELS", "MODELS", "LightGCN", "build_model"]
