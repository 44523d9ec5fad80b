"""Sparse operations shared by graph models: the normalised adjacency and a symmetric sparse product."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch


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


class _SymmetricSpMM(torch.autograd.Function):
    """y = A @ x for a symmetric sparse A, whose backward reuses A (A^T @ g == A @ g).

    torch's generic sparse backward builds A^T and a gradient for A itself; for a fixed, symmetric
    normalised adjacency neither is needed, and skipping them makes LightGCN's step several times
    faster on CPU (see BENCHMARKS.md).
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(adj)
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        (adj,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return None, torch.sparse.mm(adj, grad.contiguous())


def symmetric_spmm(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Multiply dense `x` by the symmetric sparse matrix `adj`, differentiable in `x` only."""
    return _SymmetricSpMM.apply(adj, x)  # type: ignore[no-any-return]


def propagate(adj: torch.Tensor, x: torch.Tensor, n_layers: int) -> torch.Tensor:
    """LightGCN propagation: the mean of x, Ax, ..., A^n x (layer weights 1 / (n + 1))."""
    out = x
    h = x
    for _ in range(n_layers):
        h = symmetric_spmm(adj, h)
        out = out + h
    return out / (n_layers + 1)
