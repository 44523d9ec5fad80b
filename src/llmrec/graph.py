"""The user-item graph that graph models propagate over: its edges and their normalised adjacency."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.data.interactions import Interactions
from llmrec.models.base import GraphLike, SideFeatures
from llmrec.models.ops import normalized_adjacency, to_torch_csr


@dataclass(frozen=True, eq=False)  # identity equality: comparing sparse matrices field-wise is ambiguous
class Graph:
    """Symmetric normalised adjacency D^-1/2 A D^-1/2 of the bipartite graph (users first) and its edges:
    the `GraphLike` that models are handed.

    `user_items` is the binary users x items matrix the adjacency was built from (train plus any extra
    edges): models that rebuild or refit from the raw edges (SGL's dropout views, GF-CF) read it, so
    every model sees the same edges as the propagation. `features` holds the node side features that
    feature-aware models (LLMRec) propagate over the same adjacency; the others ignore it.
    """

    adj: torch.Tensor  # sparse CSR, (n_users + n_items) square, float32
    n_users: int
    n_items: int
    user_items: sp.csr_matrix
    features: SideFeatures | None = None


def build_graph(
    train: Interactions, extra: sp.csr_matrix | None = None, features: SideFeatures | None = None
) -> Graph:
    """The propagation graph of the training edges, optionally plus extra (e.g. augmented) edges and
    node side features."""
    user_items = train.user_items if extra is None else (train.user_items + extra).tocsr()
    user_items = user_items.astype(np.float32)  # a copy, so the binarisation below never touches `train`
    user_items.data[:] = 1.0  # an edge in both train and extra counts once
    user_items.sort_indices()
    adj = to_torch_csr(normalized_adjacency(user_items))
    return Graph(adj, train.n_users, train.n_items, user_items, features)


__all__ = ["Graph", "GraphLike", "SideFeatures", "build_graph", "normalized_adjacency", "to_torch_csr"]
