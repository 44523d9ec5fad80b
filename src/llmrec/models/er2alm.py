"""ER2ALM's graph model (Sec. 3.5, Eqs. 13-14): LightGCN IDs fused with side features, BPR on the
original and on the LLM-picked (user, liked, disliked) triples.

The paper feeds "the generated user profile, the embeddings of the filtered auxiliary information and
a subset of the identified positive and negative samples into the GNN model" and scores by the inner
product with a BPR loss: LLMRec's model (models/llmrec.py) does exactly that, so ER2ALM reuses it with
the parts the paper does not have switched off by default (no pruning of the augmented pairs, no MAE
feature refinement: its noise control is the reliability gate on the features instead).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmrec.models.llmrec import LLMRec, LLMRecModelConfig


@dataclass(frozen=True)
class ER2ALMModelConfig(LLMRecModelConfig):
    """[model.er2alm]: LLMRec's knobs, with ER2ALM's defaults: no pruning, no MAE (knobs to turn on)."""

    prune_ratio: float = 0.0
    mae_weight: float = 0.0


class ER2ALM(LLMRec):
    """LLMRec's fused LightGCN under ER2ALM's name and defaults (see the module docstring)."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        n_layers: int = 3,
        reg: float = 1e-4,
        user_feature_dims: tuple[int, ...] = (),
        item_feature_dims: tuple[int, ...] = (),
        fusion: str = "fixed",
        feature_weight: float = 0.02,
        aug_weight: float = 0.012,
        prune_mode: str = "paper",
        prune_ratio: float = 0.0,
        mask_ratio: float = 0.1,
        mae_weight: float = 0.0,
        mae_gamma: float = 2.0,
    ) -> None:
        """LLMRec's constructor with ER2ALM's defaults (no pruning, no MAE), so that a model built
        without its config table is the model the config describes."""
        super().__init__(
            n_users, n_items, dim=dim, n_layers=n_layers, reg=reg, user_feature_dims=user_feature_dims,
            item_feature_dims=item_feature_dims, fusion=fusion, feature_weight=feature_weight,
            aug_weight=aug_weight, prune_mode=prune_mode, prune_ratio=prune_ratio, mask_ratio=mask_ratio,
            mae_weight=mae_weight, mae_gamma=mae_gamma,
        )  # fmt: skip


__all__ = ["ER2ALM", "ER2ALMModelConfig"]
