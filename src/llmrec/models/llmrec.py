"""LLMRec (Wei et al., WSDM 2024): LightGCN with fused side features, pruned augmented BPR and MAE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from llmrec.models.base import Capabilities, GraphLike, SideFeatures
from llmrec.models.lightgcn import LightGCN
from llmrec.models.losses import bpr_pair_losses, l2_reg, prune_official, prune_paper, scaled_cosine_loss
from llmrec.models.ops import propagate

FUSIONS = ("fixed", "learned")
PRUNE_MODES = ("paper", "official")


@dataclass(frozen=True)
class LLMRecModelConfig:
    """[model.llmrec]: LLMRec's model knobs; defaults from the official code's Netflix settings
    (utility/parser.py). Which augmented inputs it reads is the method's [llmrec] section."""

    fusion: str = "fixed"  # fixed: ID + feature_weight * features | learned: softmax-weighted mix
    feature_weight: float = 0.02  # model_cat_rate: weight of each normalised feature embedding
    aug_weight: float = 0.012  # aug_mf_rate: weight of the BPR loss on augmented triples
    prune_mode: str = "paper"  # paper: drop the worst augmented pairs | official: keep the hardest pairs
    prune_ratio: float = 0.71  # prune_loss_drop_rate: share of pairs dropped (0: no pruning)
    mask_ratio: float = 0.1  # mask_rate: share of feature nodes masked for MAE
    mae_weight: float = 1e-5  # att_re_rate: weight of the MAE reconstruction loss (0: no MAE)
    mae_gamma: float = 2.0  # alpha_l: power of the scaled cosine error


class LLMRec(LightGCN):
    """LightGCN ID embeddings fused with propagated side features, trained on original plus augmented BPR.

    Each feature matrix is projected to `dim` by its own linear layer, placed on its side's nodes (zeros
    elsewhere) and propagated over the same normalised graph, so items' features reach their users and
    users' profiles reach their items. `fusion="fixed"` adds `feature_weight` times each L2-normalised
    feature embedding to the ID embedding (the official code's `model_cat_rate`); `"learned"` mixes the ID
    and normalised feature embeddings with softmax weights of learned logits.
    A batch of 6 tensors carries augmented (user, pos, neg) triples after the original three; they are
    pruned (`prune_mode`, see losses.py) and weighted by `aug_weight`. With `mae_weight > 0` training masks
    a `mask_ratio` share of a feature's nodes with a learned token, propagates, and decodes the originals
    back from the masked nodes' embeddings (one feature per step, drawn at random and weighted by the
    number of features: an unbiased estimate of the sum over features at a single feature's cost).
    """

    # `train.fit` may append augmented triples to its batches. Uniform negatives only (no
    # hard_negatives): the pruning ranks pairs by loss, and chosen-hard negatives would be pruned first.
    capabilities = Capabilities(graph=True, augmented_triples=True, side_features=True, embeddings=True)

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
        self._basis_cache: tuple[object, list[torch.Tensor], torch.Tensor] | None = None
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

    def features(self, graph: GraphLike) -> list[torch.Tensor]:
        """The graph's feature matrices in projection order, checked against the model's shapes."""
        side = graph.features or SideFeatures()
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

    def _offset(self, k: int) -> int:
        """Index of feature k's first node in the users-then-items node order."""
        return 0 if k < len(self.user_feature_dims) else self.n_users

    def _basis(self, graph: GraphLike) -> tuple[list[torch.Tensor], torch.Tensor]:
        """P(placed X_k) of every raw feature matrix, and P of each side's indicator ([nodes, 2]).

        Propagation is linear, so P(X W^T + b) = P(X) W^T + P(1) b^T: projecting after propagating gives
        exactly the embeddings of projecting first, while the wide raw features cross the graph once per
        graph instead of once per step. Cached for the last graph seen (features are data, not weights).
        """
        cached = self._basis_cache
        if cached is not None and cached[0] is graph:
            return cached[1], cached[2]
        features = self.features(graph)
        sides = torch.zeros(self.n_users + self.n_items, 2)
        sides[: self.n_users, 0] = 1.0
        sides[self.n_users :, 1] = 1.0
        with torch.no_grad():
            columns = [self._place(k, x) for k, x in enumerate(features)] + [sides]
            widths = [c.shape[1] for c in columns]
            adj = graph.adj
            parts = list(propagate(adj, torch.cat(columns, dim=1), self.n_layers).split(widths, dim=1))
        self._basis_cache = (graph, parts[:-1], parts[-1])
        return parts[:-1], parts[-1]

    def _feature_embeddings(self, graph: GraphLike) -> list[torch.Tensor]:
        """Propagated projections P(W_k X_k + b_k) of every feature, for all nodes."""
        basis, sides = self._basis(graph)
        out = []
        for k, propagated in enumerate(basis):
            layer = cast(nn.Linear, self.proj[k])
            side = 0 if k < len(self.user_feature_dims) else 1
            out.append(F.linear(propagated, layer.weight) + sides[:, side : side + 1] * layer.bias)
        return out

    def _fuse(self, graph: GraphLike) -> torch.Tensor:
        """All fused node embeddings (users first): propagated IDs plus the weighted, normalised features."""
        adj = graph.adj
        ids = propagate(adj, torch.cat([self.user_emb.weight, self.item_emb.weight]), self.n_layers)
        weights = self.fusion_weights()
        fused = weights[0] * ids
        for w, part in zip(weights[1:], self._feature_embeddings(graph), strict=True):
            fused = fused + w * F.normalize(part, dim=1)
        return fused

    def _reconstruct(
        self, graph: GraphLike, k: int, propagated: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask a `mask_ratio` share of feature k's nodes with the learned token and decode them back.

        Returns (decoded, original) rows of the masked nodes. The masked nodes' projections are replaced
        by the token before propagation; by linearity that is the unmasked `propagated` embedding plus
        the propagation of the replacement (token minus projection), which is nonzero on masked rows only.
        """
        x = self.features(graph)[k]
        nodes = torch.randperm(len(x), device=x.device)[: max(1, round(self.mask_ratio * len(x)))]
        rows = nodes + self._offset(k)
        delta = propagated.new_zeros(propagated.shape)
        delta = delta.index_copy(0, rows, self.mask_token[k] - self.proj[k](x[nodes]))
        adj = graph.adj
        masked = propagated[rows] + propagate(adj, delta, self.n_layers)[rows]
        return self.decoder[k](masked), x[nodes]

    def embed(self, graph: GraphLike) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused user and item embeddings (no masking)."""
        fused = self._fuse(graph)
        return fused[: self.n_users], fused[self.n_users :]

    def mae_loss(self, graph: GraphLike) -> torch.Tensor:
        """Scaled-cosine reconstruction error of freshly masked nodes, summed over every feature."""
        feats = self._feature_embeddings(graph)
        recon = [self._reconstruct(graph, k, f) for k, f in enumerate(feats)]
        return sum((scaled_cosine_loss(p, t, self.mae_gamma) for p, t in recon), torch.zeros(()))

    def _sampled_mae(self, graph: GraphLike) -> torch.Tensor:
        """K times the reconstruction error of one feature drawn at random: an unbiased estimate of
        `mae_loss` (the sum over the K features) at the propagation cost of a single feature."""
        k = int(torch.randint(len(self.proj), ()))
        decoded, original = self._reconstruct(graph, k, self._feature_embeddings(graph)[k])
        return len(self.proj) * scaled_cosine_loss(decoded, original, self.mae_gamma)

    def loss(self, batch: tuple[torch.Tensor, ...], graph: GraphLike) -> torch.Tensor:  # type: ignore[override]
        """BPR (original) + aug_weight * pruned BPR (augmented) + mae_weight * MAE + L2 on layer-0 IDs."""
        users, pos, neg = batch[:3]
        fused = self._fuse(graph)
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
        loss = ranking + self.reg * reg
        if self.training and self.mae_weight > 0 and self.mask_ratio > 0 and len(self.proj) > 0:
            loss = loss + self.mae_weight * self._sampled_mae(graph)
        return loss


__all__ = ["FUSIONS", "PRUNE_MODES", "LLMRec", "SideFeatures"]
