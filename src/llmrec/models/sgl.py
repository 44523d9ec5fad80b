"""SGL-ED (Wu et al., SIGIR 2021): LightGCN plus InfoNCE between two edge-dropout views of the graph."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.models.base import Capabilities, GraphLike
from llmrec.models.lightgcn import LightGCN
from llmrec.models.losses import node_info_nce
from llmrec.models.ops import normalized_adjacency, propagate, to_torch_csr


def drop_edges(user_items: sp.csr_matrix, ratio: float, generator: np.random.Generator) -> sp.csr_matrix:
    """A copy of `user_items` keeping round((1 - ratio) * nnz) of its edges, drawn uniformly."""
    coo = user_items.tocoo()
    keep = generator.choice(coo.nnz, size=round(coo.nnz * (1 - ratio)), replace=False)
    return sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape)


@dataclass(frozen=True)
class SGLConfig:
    """[model.sgl]: SGL-ED's own knobs, published defaults (Wu et al. 2021, Yelp2018 / SELFRec)."""

    ssl_weight: float = 0.1  # InfoNCE weight lambda
    ssl_temp: float = 0.2  # InfoNCE temperature tau
    drop_ratio: float = 0.1  # edge-dropout ratio rho of each view
    ssl_max_rows: int = 4096  # InfoNCE over at most this many unique users / items: cost grows as its square


class SGL(LightGCN):
    """SGL with edge dropout (ED): the LightGCN recommender plus a self-supervised InfoNCE term.

    Once per epoch (`start_epoch`) two views of the graph's edges are drawn, each keeping 1 - `drop_ratio`
    of them and re-normalised on its own degrees. Each batch propagates the layer-0 embeddings over
    both views and pulls together the two views of the batch's unique users and of its unique
    positive items (the other users / items of the batch are the negatives, at most `ssl_max_rows`),
    weighted by `ssl_weight`.
    Defaults are the published SGL-ED settings (rho 0.1, tau 0.2, lambda 0.1, 3 layers).
    Scoring uses the full graph only, like LightGCN.
    """

    capabilities = Capabilities(graph=True, hard_negatives=True, epoch_views=True, embeddings=True)

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        n_layers: int = 3,
        reg: float = 1e-4,
        ssl_weight: float = 0.1,
        ssl_temp: float = 0.2,
        drop_ratio: float = 0.1,
        ssl_max_rows: int = 4096,
    ) -> None:
        super().__init__(n_users, n_items, dim=dim, n_layers=n_layers, reg=reg)
        if not 0 <= drop_ratio < 1:
            raise ValueError(f"drop_ratio must be in [0, 1), got {drop_ratio}")
        self.ssl_weight, self.ssl_temp, self.drop_ratio = ssl_weight, ssl_temp, drop_ratio
        self.ssl_max_rows = ssl_max_rows
        # the views are a function of the epoch's random draw, not learned state: kept out of state_dict
        self.views: tuple[torch.Tensor, torch.Tensor] | None = None

    def start_epoch(self, graph: GraphLike, generator: np.random.Generator) -> None:
        """Draw this epoch's two edge-dropout views of the graph's edges."""
        edges = graph.user_items

        def view() -> torch.Tensor:
            return to_torch_csr(normalized_adjacency(drop_edges(edges, self.drop_ratio, generator)))

        self.views = (view(), view())

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], graph: GraphLike) -> torch.Tensor:
        """LightGCN's BPR + L2 loss plus `ssl_weight` times the user and item InfoNCE between the views."""
        if self.views is None:
            raise RuntimeError("SGL.loss needs this epoch's views: call start_epoch(graph, generator) first")
        ego = torch.cat([self.user_emb.weight, self.item_emb.weight])
        view1, view2 = (propagate(adj, ego, self.n_layers) for adj in self.views)
        ssl = node_info_nce(view1, view2, batch, self.n_users, self.ssl_temp, self.ssl_max_rows)
        return super().loss(batch, graph) + self.ssl_weight * ssl
