"""Sparse operations shared by graph models (torch only)."""

from __future__ import annotations

import torch


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
