"""The normalised user-item graph that graph models propagate over."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from llmrec.data.interactions import Interactions


@dataclass(frozen=True)
class Graph:
    """Symmetric normalised adjacency D^-1/2 A D^-1/2 of the bipartite graph, users first."""

    adj: torch.Tensor  # sparse CSR, (n_users + n_items) square, float32
    n_users: int
    n_items: int


def normalized_adjacency(user_items: sp.csr_matrix) -> sp.csr_matrix:
    """D^-1/2 [[0, R], [R^T, 0]] D^-1/2 for a users x items matrix R; isolated nodes get zero rows."""
    r = user_items.tocsr().astype(np.float32)
    r.data[:] = 1.0  # binary edges: a duplicate or weighted entry must not change the degree
    adj = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    degree = np.asarray(adj.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(degree)
    np.power(degree, -0.5, out=inv_sqrt, where=degree > 0)
    scale = sp.diags(inv_sqrt.astype(np.float32))
    out = (scale @ adj @ scale).tocsr()
    out.sort_indices()
    return out


def to_torch_csr(matrix: sp.csr_matrix) -> torch.Tensor:
    """A scipy CSR matrix as a torch sparse CSR tensor (int64 indices: faster with 2 threads here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)),
            torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data.astype(np.float32)),
            size=matrix.shape,
            check_invariants=False,  # scipy built it sorted and canonical; checking costs a pass
        )


def build_graph(train: Interactions, extra: sp.csr_matrix | None = None) -> Graph:
    """The propagation graph of the training edges, optionally plus extra (e.g. augmented) edges."""
    user_items = train.user_items if extra is None else (train.user_items + extra).tocsr()
    return Graph(to_torch_csr(normalized_adjacency(user_items)), train.n_users, train.n_items)
