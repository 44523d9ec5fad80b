"""LLMRec (Wei et al., WSDM 2024): LightGCN with fused side features, pruned augmented BPR and MAE."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from llmrec.models.lightgcn import LightGCN
from llmrec.models.losses import bpr_pair_losses, l2_reg, prune_official, prune_paper, scaled_cosine_loss
from llmrec.models.ops import propagate

FUSIONS = ("fixed", "learned")
PRUNE_MODES = ("paper", "official")


@dataclass(frozen=True, eq=False)
class SideFeatures:
    """Named dense feature matrices of users (n_users rows) and of items (n_items rows).

    They travel with the graph (`Graph.features`) rather than the model: like the edges they are data,
    so the constructor keeps taking plain numbers and `fit` / evaluation pass them on unchanged.
    Insertion order matters: the k-th matrix feeds the model's k-th projection of its side.
    """

    user: Mapping[str, torch.Tensor] = field(default_factory=dict)
    item: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for side, feats in (("user", self.user), ("item", self.item)):
            for name, x in feats.items():
                if x.ndim != 2 or not x.is_floating_point():
                    raise ValueError(
                        f"{side} feature {name!r} must be a 2-D float matrix, got {tuple(x.shape)}"
                    )
                if not torch.isfinite(x).all():
                    raise ValueError(f"{side} feature {name!r} contains NaN or infinite values")


class LLMRec(LightGCN):
    """LightGCN ID embeddings fused with propagated side features, trained on original plus augmented BPR.

    Each feature matrix is projected to `dim` by its own linear layer, placed on its side's nodes (zeros
    elsewhere) and propagated over the same normalised graph, so items' features reach their users and
    users' profiles reach their items. `fusion="fixed"` adds `feature_weight` times each L2-normalised
    feature embedding to the ID embedding (the official code's `model_cat_rate`); `"learned"` mixes the ID
    and normalised feature embeddings with softmax weights of learned logits.
    A batch of 6 tensors carries augmented (user, pos, neg) triples after the original three; they are
    pruned (`prune_mode`, see losses.py) and weighted by `aug_weight`. With `mae_weight > 0` training masks
    a `mask_ratio` share of each feature's nodes with a learned token and decodes the originals back.
    """

    accepts_augmented = True  # `train.fit` may append augmented triples to its batches

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
        prune_ratio: float = 0.71,
        mask_ratio: float = 0.1,
        mae_weight: float = 1e-5,
        mae_gamma: float = 2.0,
    ) -> None:
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if prune_mode not in PRUNE_MODES:
            raise ValueError(f"prune_mode must be one of {PRUNE_MODES}, got {prune_mode!r}")
        for name, ratio in (("prune_ratio", prune_ratio), ("mask_ratio", mask_ratio)):
            if not 0 <= ratio < 1:
                raise ValueError(f"{name} must be in [0, 1), got {ratio}")
        super().__init__(n_users, n_items, dim=dim, n_layers=n_layers, reg=reg)
        self.user_feature_dims, self.item_feature_dims = tuple(user_feature_dims), tuple(item_feature_dims)
        self.fusion, self.feature_weight, self.aug_weight = fusion, feature_weight, aug_weight
        self.prune_mode, self.prune_ratio = prune_mode, prune_ratio
        self.mask_ratio, self.mae_weight, self.mae_gamma = mask_ratio, mae_weight, mae_gamma
        dims = self.user_feature_dims + self.item_feature_dims
        self.proj = nn.ModuleList(nn.Linear(d, dim) for d in dims)
        self.decoder = nn.ModuleList(nn.Linear(dim, d) for d in dims)
        self.mask_token = nn.Parameter(torch.zeros(len(dims), dim))
        # softmax logits over [ID, feature 1, ...]; zeros start the learned fusion at equal weights
        self.fusion_logits = nn.Parameter(torch.zeros(len(dims) + 1), requires_grad=fusion == "learned")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """LightGCN's Normal(0, 0.1) IDs, xavier projections and decoders, a small random mask token."""
        super().reset_parameters()
        for layer in (*getattr(self, "proj", ()), *getattr(self, "decoder", ())):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        if hasattr(self, "mask_token"):
            nn.init.normal_(self.mask_token, std=0.1)
            nn.init.zeros_(self.fusion_logits)

    def fusion_weights(self) -> torch.Tensor:
        """Weights of [ID, feature 1, ...] in the fused embedding."""
        if self.fusion == "learned":
            return torch.softmax(self.fusion_logits, dim=0)
        weights = self.fusion_logits.detach().new_full((len(self.proj) + 1,), self.feature_weight)
        weights[0] = 1.0
        return weights

    def features(self, graph: object) -> list[torch.Tensor]:
        """The graph's feature matrices in projection order, checked against the model's shapes."""
        side: SideFeatures = getattr(graph, "features", None) or SideFeatures()
        out = []
        for kind, feats, dims, rows in (
            ("user", side.user, self.user_feature_dims, self.n_users),
            ("item", side.item, self.item_feature_dims, self.n_items),
        ):
            if len(feats) != len(dims):
                raise ValueError(f"model expects {len(dims)} {kind} feature(s), graph has {list(feats)}")
            for (name, x), d in zip(feats.items(), dims, strict=True):
                if x.shape != (rows, d):
                    raise ValueError(
                        f"{kind} feature {name!r} has shape {tuple(x.shape)}, expected ({rows}, {d})"
                    )
                out.append(x)
        return out

    def _place(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Feature k's node rows (users first) with zeros on the other side of the graph."""
        if k < len(self.user_feature_dims):
            return torch.cat([x, x.new_zeros(self.n_items, x.shape[1])])
        return torch.cat([x.new_zeros(self.n_users, x.shape[1]), x])

    def _fuse(
        self, graph: object, masked: bool
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """All fused node embeddings, and per feature the (decoded, original) rows of its masked nodes.

        With `masked`, the masked features also feed the fused embeddings (GraphMAE-style feature
        dropout): one propagation serves both the ranking and the reconstruction loss.
        """
        masked = masked and self.mask_ratio > 0
        features = self.features(graph)
        columns = [torch.cat([self.user_emb.weight, self.item_emb.weight])]
        mask_nodes = []
        for k, x in enumerate(features):
            h = self.proj[k](x)
            if masked:
                nodes = torch.randperm(len(x), device=x.device)[: max(1, round(self.mask_ratio * len(x)))]
                h = h.index_copy(0, nodes, self.mask_token[k].expand(len(nodes), -1))
                mask_nodes.append(nodes)
            columns.append(self._place(k, h))
        # IDs and all features side by side in one sparse pass: cheaper than one pass per matrix
        adj = graph.adj  # type: ignore[attr-defined]
        parts = propagate(adj, torch.cat(columns, dim=1), self.n_layers).split(self.dim, dim=1)
        recon = []
        for k, nodes in enumerate(mask_nodes):
            offset = 0 if k < len(self.user_feature_dims) else self.n_users
            recon.append((self.decoder[k](parts[k + 1][nodes + offset]), features[k][nodes]))
        weights = self.fusion_weights()
        fused = weights[0] * parts[0]
        for w, part in zip(weights[1:], parts[1:], strict=True):
            fused = fused + w * F.normalize(part, dim=1)
        return fused, recon

    def embed(self, graph: object) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused user and item embeddings (no masking)."""
        fused, _ = self._fuse(graph, masked=False)
        return fused[: self.n_users], fused[self.n_users :]

    def mae_loss(self, graph: object) -> torch.Tensor:
        """Scaled-cosine reconstruction error of the masked nodes, summed over features."""
        _, recon = self._fuse(graph, masked=True)
        return self._reconstruction(recon)

    def _reconstruction(self, recon: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """Sum over features of the scaled cosine error of the decoded masked rows (0 without any)."""
        return sum((scaled_cosine_loss(p, t, self.mae_gamma) for p, t in recon), torch.zeros(()))

    def loss(self, batch: tuple[torch.Tensor, ...], graph: object) -> torch.Tensor:  # type: ignore[override]
        """BPR (original) + aug_weight * pruned BPR (augmented) + mae_weight * MAE + L2 on layer-0 IDs."""
        users, pos, neg = batch[:3]
        train_mae = self.training and self.mae_weight > 0 and len(self.proj) > 0
        fused, recon = self._fuse(graph, masked=train_mae)
        user_emb, item_emb = fused[: self.n_users], fused[self.n_users :]

        def pair_losses(u: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
            return bpr_pair_losses((user_emb[u] * item_emb[p]).sum(-1), (user_emb[u] * item_emb[n]).sum(-1))

        original = pair_losses(users, pos, neg)
        augmented = pair_losses(*batch[3:6]) if len(batch) == 6 else original.new_zeros(0)
        if self.prune_mode == "paper":
            ranking = original.mean() + self.aug_weight * prune_paper(augmented, self.prune_ratio)
        else:
            # the official code prunes one pool of all pairs; aug_weight scales the augmented ones within it
            ranking = prune_official(torch.cat([original, self.aug_weight * augmented]), 1 - self.prune_ratio)
        reg = l2_reg(self.user_emb(users), self.item_emb(pos), self.item_emb(neg))
        return ranking + self.reg * reg + self.mae_weight * self._reconstruction(recon)


__all__ = ["FUSIONS", "PRUNE_MODES", "LLMRec", "SideFeatures"]
