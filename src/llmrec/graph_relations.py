"""Relations between the user and item tokens of a prompt, from the training graph only.

The graph-aware transformer (arXiv 2402.09617) adds to each attention logit between two graph tokens a
learned mix of their relations in the user-item graph. The reference builds a dense relation matrix
over every node pair with Floyd-Warshall, on train + valid + test edges. Here the encoder holds only
the TRAINING matrix it is given, and computes the relations of the few nodes one prompt holds, from
sparse row products: nothing is ever n x n.

Channels (`CHANNELS`), each symmetric with a zero diagonal:

- ``adjacent``: 1 for a (user, item) training edge, else 0 (first order).
- ``proximity``: 1 / d for the shortest-path distance d in the bipartite training graph when
  d <= `max_hops` (declared cap, 1 to 3), else 0 (second order). Users and items alternate along a
  path, so user-item pairs sit at odd distances (1, 3) and same-kind pairs at even ones (2).
- ``cooccurrence``: item-item and user-user cosine of their neighbour sets,
  |N(a) & N(b)| / sqrt(|N(a)| |N(b)|); user-item the normalised edge weight 1 / sqrt(d_u d_i) of
  LightGCN. Inside one user's prompt every history item is two hops from every other, so
  ``proximity`` is constant there; this channel is the one that varies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

CHANNELS = ("adjacent", "proximity", "cooccurrence")
MAX_HOPS = 3  # the largest cap the sparse products below support


@dataclass(frozen=True)
class PromptNodes:
    """The graph nodes of one prompt: its users, then its items (internal indices, no repeats)."""

    users: np.ndarray
    items: np.ndarray

    @property
    def size(self) -> int:
        """How many nodes: users first, then items, in the encoding's row order."""
        return len(self.users) + len(self.items)


class RelationEncoder:
    """Relations among a prompt's users and items in a training graph (users x items CSR)."""

    def __init__(self, train_user_items: sp.csr_matrix, max_hops: int = 2) -> None:
        if not 1 <= max_hops <= MAX_HOPS:
            raise ValueError(f"max_hops must be 1 to {MAX_HOPS}, got {max_hops}")
        r = sp.csr_matrix(train_user_items, dtype=np.float32, copy=True)
        r.sum_duplicates()
        r.data[:] = 1.0
        self.max_hops = max_hops
        self.n_users, self.n_items = r.shape
        self._r = r  # users x items
        self._rt = r.T.tocsr()  # items x users
        self._user_deg = np.diff(r.indptr).astype(np.float32)
        self._item_deg = np.diff(self._rt.indptr).astype(np.float32)

    def encode(self, nodes: PromptNodes) -> np.ndarray:
        """[len(CHANNELS), n, n] float32 relations among `nodes` (users first, then items)."""
        users = np.asarray(nodes.users, dtype=np.int64)
        items = np.asarray(nodes.items, dtype=np.int64)
        self._check(users, self.n_users, "user")
        self._check(items, self.n_items, "item")
        nu, ni = len(users), len(items)
        out = np.zeros((len(CHANNELS), nu + ni, nu + ni), dtype=np.float32)
        if nu + ni == 0:
            return out
        ru = self._r[users]  # nu x n_items
        ri = self._rt[items]  # ni x n_users
        adj = ru[:, items].toarray() if nu and ni else np.zeros((nu, ni), np.float32)
        co_ii = (ri @ ri.T).toarray()  # shared users of two items
        co_uu = (ru @ ru.T).toarray()  # shared items of two users
        # first order
        out[0, :nu, nu:] = adj
        # shortest-path proximity, capped at max_hops
        prox_ui = adj.copy()
        if self.max_hops >= 3 and nu and ni:
            prox_ui = np.where(adj > 0, 1.0, np.where(self._three_hops(ru, ri, adj), 1.0 / 3.0, 0.0))
        out[1, :nu, nu:] = prox_ui
        if self.max_hops >= 2:
            out[1, :nu, :nu] = np.where(co_uu > 0, 0.5, 0.0)
            out[1, nu:, nu:] = np.where(co_ii > 0, 0.5, 0.0)
        # normalised co-occurrence (varies inside one user's prompt)
        du = np.maximum(self._user_deg[users], 1.0)
        di = np.maximum(self._item_deg[items], 1.0)
        out[2, :nu, nu:] = adj / np.sqrt(np.outer(du, di))
        out[2, :nu, :nu] = co_uu / np.sqrt(np.outer(du, du))
        out[2, nu:, nu:] = co_ii / np.sqrt(np.outer(di, di))
        # symmetric, no self relation (a token's own position is not an edge)
        out[:, nu:, :nu] = out[:, :nu, nu:].transpose(0, 2, 1)
        idx = np.arange(nu + ni)
        out[:, idx, idx] = 0.0
        return out

    def encode_many(self, prompts: Iterable[PromptNodes]) -> Iterator[np.ndarray]:
        """`encode` over many prompts, lazily (a caller keeps only what it needs)."""
        for nodes in prompts:
            yield self.encode(nodes)

    def _three_hops(self, ru: sp.csr_matrix, ri: sp.csr_matrix, adj: np.ndarray) -> np.ndarray:
        """[nu, ni] bool: a user-item pair joined by a path u - i' - u' - i (checked only for the pairs
        that are not adjacent, which prompts built from a user's own history rarely hold)."""
        far = adj == 0
        if not far.any():
            return np.zeros_like(far)
        rows = np.flatnonzero(far.any(axis=1))
        # users two hops from each such user, as an indicator row, then their items among the prompt's
        near_users = ru[rows] @ self._rt  # len(rows) x n_users, counts of shared items
        near_users.data[:] = 1.0
        paths = (near_users @ ri.T).toarray() > 0  # len(rows) x ni
        out = np.zeros_like(far)
        out[rows] = paths
        return out & far

    @staticmethod
    def _check(ids: np.ndarray, n: int, kind: str) -> None:
        """Unknown ids are a clear error, not an index error deep in scipy."""
        if len(ids) and (ids.min() < 0 or ids.max() >= n):
            bad = ids[(ids < 0) | (ids >= n)][:5].tolist()
            raise ValueError(f"unknown {kind} index {bad} (the training graph has {n} {kind}s)")
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"a prompt's {kind} nodes repeat: give each node once")


__all__ = ["CHANNELS", "MAX_HOPS", "PromptNodes", "RelationEncoder"]
