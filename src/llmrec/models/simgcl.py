"""SimGCL (Yu et al., SIGIR 2022): LightGCN plus InfoNCE between two noise-perturbed encodings."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from llmrec.models.base import GraphLike
from llmrec.models.lightgcn import LightGCN
from llmrec.models.losses import bpr_loss, hardest_negatives, l2_reg, node_info_nce
from llmrec.models.ops import symmetric_spmm


def sign_noise(x: torch.Tensor, eps: float) -> torch.Tensor:
    """SimGCL's perturbation: a uniform random direction of norm `eps` per row, turned into x's orthant.

    The noise is a constant of the step (sign() has no gradient), so it is built in place outside
    autograd: on Gowalla this halves its cost, which rivals the sparse products'.
    """
    with torch.no_grad():
        noise = torch.rand_like(x)
        noise.mul_(eps / noise.norm(dim=1, keepdim=True).clamp_min_(1e-12))
        return noise.mul_(torch.sign(x))


@dataclass(frozen=True)
class SimGCLConfig:
    """[model.simgcl]: SimGCL's own knobs, published defaults (Yu et al. 2022, Yelp2018)."""

    ssl_weight: float = 0.5  # InfoNCE weight lambda
    ssl_temp: float = 0.2  # InfoNCE temperature tau
    eps: float = 0.1  # noise norm epsilon
    ssl_max_rows: int = 4096  # InfoNCE over at most this many unique users / items: cost grows as its square
    # initial embeddings: "normal" is LightGCN's N(0, 0.1); "xavier" the SimGCL authors' code's
    # Xavier-uniform, rows ~12x smaller on Gowalla, so the same eps is a larger perturbation early on
    init: str = "normal"


class SimGCL(LightGCN):
    """SimGCL: the contrastive views add `sign_noise` to every propagation layer instead of dropping edges.

    As in the authors' code, every encoding (the clean one used for BPR and scoring, and both noisy
    views) is the mean of layers 1..L, leaving out the layer-0 embeddings. The views' InfoNCE runs over
    the batch's unique users and unique positive items (at most `ssl_max_rows` each), weighted by
    `ssl_weight`. Defaults are the published Yelp2018 settings (lambda 0.5, eps 0.1, tau 0.2, 3 layers).
    `init` "xavier" starts from Xavier-uniform embeddings as the authors' code does (bound
    sqrt(6 / (rows + dim))); "normal" from LightGCN's N(0, 0.1).
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        n_layers: int = 3,
        reg: float = 1e-4,
        ssl_weight: float = 0.5,
        ssl_temp: float = 0.2,
        eps: float = 0.1,
        ssl_max_rows: int = 4096,
        init: str = "normal",
    ) -> None:
        super().__init__(n_users, n_items, dim=dim, n_layers=n_layers, reg=reg)
        if n_layers < 1:
            raise ValueError("SimGCL leaves layer 0 out of the mean, so it needs n_layers >= 1")
        if init not in ("normal", "xavier"):
            raise ValueError(f"SimGCL init must be 'normal' or 'xavier', got {init!r}")
        if init == "xavier":  # the authors' code; LightGCN's N(0, 0.1) draw above is overwritten
            nn.init.xavier_uniform_(self.user_emb.weight)
            nn.init.xavier_uniform_(self.item_emb.weight)
        self.ssl_weight, self.ssl_temp, self.eps, self.ssl_max_rows = ssl_weight, ssl_temp, eps, ssl_max_rows

    def encode(self, adj: torch.Tensor, first: torch.Tensor, perturbed: bool) -> torch.Tensor:
        """Mean of layers 1..L, from layer 1 = `first` (adj @ ego); `perturbed` adds `sign_noise` at each.

        The encoding starts from the first product rather than from ego because the noise is added
        after each product: the clean encoding and both views share it (see `encodings`).
        """
        layers = [first + sign_noise(first, self.eps) if perturbed else first]
        for _ in range(1, self.n_layers):
            h = symmetric_spmm(adj, layers[-1])
            layers.append(h + sign_noise(h, self.eps) if perturbed else h)
        return sum(layers[1:], layers[0]) / self.n_layers

    def encodings(self, adj: torch.Tensor, ego: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The step's clean encoding and its two noisy views, sharing their first sparse product.

        Sharing it saves 4 of 18 sparse products a step at 3 layers (autograd sums the three
        gradients before its one backward product). The encodings' other products stay separate
        64-wide ones: on CPU one product over their side-by-side columns measured about 2x slower.
        """
        first = symmetric_spmm(adj, ego)
        return tuple(self.encode(adj, first, perturbed) for perturbed in (False, True, True))

    def embed(self, graph: GraphLike) -> tuple[torch.Tensor, torch.Tensor]:
        """Clean (unperturbed) propagated user and item embeddings."""
        adj, ego = graph.adj, torch.cat([self.user_emb.weight, self.item_emb.weight])
        out = self.encode(adj, symmetric_spmm(adj, ego), perturbed=False)
        return out[: self.n_users], out[self.n_users :]

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], graph: GraphLike) -> torch.Tensor:
        """BPR on the clean encoding (the hardest of [B, K] negatives), L2 on the batch's layer-0 rows,
        `ssl_weight` x user + item InfoNCE."""
        users, pos, neg = batch
        adj, ego = graph.adj, torch.cat([self.user_emb.weight, self.item_emb.weight])
        clean, view1, view2 = self.encodings(adj, ego)
        items = clean[self.n_users :]
        u = clean[users]
        neg = hardest_negatives(u, items, neg)
        rec = bpr_loss((u * items[pos]).sum(-1), (u * items[neg]).sum(-1))
        reg = l2_reg(self.user_emb(users), self.item_emb(pos), self.item_emb(neg))
        ssl = node_info_nce(view1, view2, batch, self.n_users, self.ssl_temp, self.ssl_max_rows)
        return rec + self.reg * reg + self.ssl_weight * ssl
