"""GF-CF (Shen et al., CIKM 2021): a training-free graph filter, linear plus an ideal low-pass part."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import svds
from torch import nn

from llmrec.models.base import Capabilities, GraphLike
from llmrec.models.ops import to_torch_csr


@dataclass(frozen=True)
class GFCFConfig:
    """[model.gf-cf]: GF-CF's knobs, published defaults (Shen et al. 2021)."""

    alpha: float = 0.3  # weight of the ideal low-pass filter
    k: int = 256  # singular vectors in the ideal low-pass filter


class GFCF(nn.Module):
    """Scores r_u R~^T R~ + alpha * r_u D_i^-1/2 V_k V_k^T D_i^1/2, with R~ = D_u^-1/2 R D_i^-1/2.

    R is the binary users x items training matrix and D_u, D_i its user and item degrees; V_k holds the
    top-k right singular vectors of R~ (the ideal low-pass filter). Nothing is learned by gradient:
    `fit` computes the filter in closed form. Its state stays out of `state_dict` because it is a
    deterministic function of the edges and `seed`, so a saved run refits it when loaded.
    Defaults are the published ones (alpha 0.3, k 256).
    """

    capabilities = Capabilities(graph=True, closed_form=True)

    def __init__(self, n_users: int, n_items: int, alpha: float = 0.3, k: int = 256, seed: int = 0) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.n_users, self.n_items, self.alpha, self.k, self.seed = n_users, n_items, alpha, k, seed
        self.edges_: sp.csr_matrix | None = None

    def fit(self, user_items: sp.csr_matrix) -> GFCF:
        """Normalise the training edges and take R~'s top-k right singular vectors; returns self."""
        if user_items.shape != (self.n_users, self.n_items):
            raise ValueError(f"expected a {(self.n_users, self.n_items)} matrix, got {user_items.shape}")
        r = user_items.tocsr().astype(np.float64)
        r.data[:] = 1.0
        inv_sqrt_u, inv_sqrt_i = (_inv_sqrt(np.asarray(r.sum(axis=a)).ravel()) for a in (1, 0))
        norm = (sp.diags(inv_sqrt_u) @ r @ sp.diags(inv_sqrt_i)).tocsr()
        # svds finds at most min(shape) - 1 singular triplets; a fixed start vector makes ARPACK reproducible
        k = min(self.k, min(norm.shape) - 1)
        v0 = np.random.default_rng(self.seed).uniform(-1.0, 1.0, size=min(norm.shape))
        _, _, vt = svds(norm, k=k, v0=v0)
        sqrt_i = np.zeros_like(inv_sqrt_i)
        np.divide(1.0, inv_sqrt_i, out=sqrt_i, where=inv_sqrt_i > 0)  # D_i^1/2; 0 for items without edges
        self.edges_ = r.astype(np.float32)
        self.norm_ = norm.astype(np.float32)
        self.norm_t_ = to_torch_csr(self.norm_.T.tocsr())
        # the low-pass filter factors into per-user (r_u D_i^-1/2 V_k) and per-item (V_k^T D_i^1/2) parts
        self.low_in_ = (inv_sqrt_i[:, None] * vt.T).astype(np.float32)
        self.low_out_ = torch.from_numpy((vt * sqrt_i[None, :]).astype(np.float32))
        return self

    def score(self, users: torch.Tensor, graph: GraphLike | None = None) -> torch.Tensor:
        """Scores of every item for the given users: [len(users), n_items] (the graph was read by `fit`)."""
        if self.edges_ is None:
            raise RuntimeError("GFCF.score before fit: call fit(user_items) first")
        r = self.edges_[users.numpy()]
        to_users = r @ self.norm_.T  # r_u R~^T: sparse, a few hundred users per row
        # Both parts are built items x batch, the layout of torch's (multithreaded) sparse product, and
        # transposed once at the end: adding them as batch x items through a transposed view cost 3x more.
        linear = torch.sparse.mm(self.norm_t_, torch.from_numpy(to_users.T.toarray()))
        low = self.low_out_.T @ torch.from_numpy(r @ self.low_in_).T
        return linear.add_(low, alpha=self.alpha).T.contiguous()


def _inv_sqrt(degree: np.ndarray) -> np.ndarray:
    """degree^-1/2, with 0 for zero degrees (isolated users or items contribute nothing)."""
    out = np.zeros_like(degree)
    np.power(degree, -0.5, out=out, where=degree > 0)
    return out
