"""LightGCN (He et al., SIGIR 2020): ID embeddings smoothed over the normalised user-item graph."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from llmrec.models.base import Capabilities, GraphLike
from llmrec.models.losses import bpr_loss, hardest_negatives, l2_reg
from llmrec.models.ops import propagate


@dataclass(frozen=True)
class LightGCNConfig:
    """[model.lightgcn]: none of its own; it takes [model] dim, n_layers and [train] reg."""


class LightGCN(nn.Module):
    """LightGCN with layer weights 1 / (n_layers + 1).

    `graph` (a `GraphLike`) holds `adj`, the symmetric normalised (n_users + n_items) square adjacency
    as a torch sparse CSR tensor; it is passed to every call so one model can be scored on another
    graph (e.g. train + augmented edges) without rebuilding it.
    """

    capabilities = Capabilities(graph=True, hard_negatives=True, embeddings=True)

    def __init__(
        self, n_users: int, n_items: int, dim: int = 64, n_layers: int = 3, reg: float = 1e-4
    ) -> None:
        super().__init__()
        self.n_users, self.n_items, self.dim, self.n_layers, self.reg = n_users, n_items, dim, n_layers, reg
        self.user_emb = nn.Embedding(n_users, dim)
        self.item_emb = nn.Embedding(n_items, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Normal(0, 0.1) initialisation, as in the reference PyTorch implementation."""
        nn.init.normal_(self.user_emb.weight, std=0.1)
        nn.init.normal_(self.item_emb.weight, std=0.1)

    def embed(self, graph: GraphLike) -> tuple[torch.Tensor, torch.Tensor]:
        """Propagated user and item embeddings."""
        ego = torch.cat([self.user_emb.weight, self.item_emb.weight])
        out = propagate(graph.adj, ego, self.n_layers)
        return out[: self.n_users], out[self.n_users :]

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], graph: GraphLike) -> torch.Tensor:
        """BPR loss on propagated embeddings plus L2 on the batch's layer-0 rows; [B, K] negatives are
        candidates, of which the currently highest-scored is used."""
        users, pos, neg = batch
        user_emb, item_emb = self.embed(graph)
        u = user_emb[users]
        neg = hardest_negatives(u, item_emb, neg)
        pos_scores = (u * item_emb[pos]).sum(-1)
        neg_scores = (u * item_emb[neg]).sum(-1)
        reg = l2_reg(self.user_emb(users), self.item_emb(pos), self.item_emb(neg))
        return bpr_loss(pos_scores, neg_scores) + self.reg * reg

    def score(self, users: torch.Tensor, graph: GraphLike) -> torch.Tensor:
        """Scores of every item for the given users: [len(users), n_items]."""
        user_emb, item_emb = self.embed(graph)
        return user_emb[users] @ item_emb.T
